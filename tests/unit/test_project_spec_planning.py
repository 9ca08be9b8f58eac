"""specflow.planning_needed agrees with reconcile; PlannerCalls asks the planner once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prazium_operator import specflow
from prazium_operator.agents import AgentError
from prazium_operator.agents.template import TemplatePlanner


class CountingPlanner(TemplatePlanner):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def clarify(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("clarify")
        return super().clarify(*args, **kwargs)

    def write_spec(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append("write_spec")
        return super().write_spec(*args, **kwargs)


@pytest.fixture
def planner(monkeypatch: pytest.MonkeyPatch) -> CountingPlanner:
    counting = CountingPlanner()
    monkeypatch.setattr(specflow, "get_planner", lambda *_a, **_k: counting)
    return counting


def step(tmp_path: Path, spec: dict[str, Any], status: dict[str, Any],
         calls: specflow.PlannerCalls | None = None) -> dict[str, Any]:
    result = specflow.reconcile(tmp_path, "ns", "p", spec, status, 1, calls)
    return {**status, **result}


def test_planning_needed_follows_the_steps(tmp_path: Path, planner: CountingPlanner) -> None:
    spec: dict[str, Any] = {"displayName": "Notes", "description": "A notes app with tags"}
    assert specflow.planning_needed(spec, {})
    status = step(tmp_path, spec, {})
    assert planner.calls == ["clarify"]
    assert not specflow.planning_needed(spec, status)

    spec["answers"] = []
    assert specflow.planning_needed(spec, status)
    status = step(tmp_path, spec, status)
    assert planner.calls == ["clarify", "write_spec"]
    assert not specflow.planning_needed(spec, status)

    spec["approval"] = {"specVersion": 1}
    assert not specflow.planning_needed(spec, status)  # approval needs no planner
    spec["regenerate"] = {"revision": 1, "feedback": "more"}
    assert specflow.planning_needed(spec, status)
    assert not specflow.planning_needed({**spec, "archived": True}, status)


def test_provided_documents_need_no_planner() -> None:
    documents = {key: "text" for key in specflow.SPEC_DOCUMENTS}
    assert not specflow.planning_needed({"specDocuments": documents}, {})


def test_planner_calls_are_remembered(tmp_path: Path, planner: CountingPlanner) -> None:
    spec: dict[str, Any] = {"displayName": "Notes", "description": "A notes app", "answers": []}
    calls = specflow.PlannerCalls()
    first = step(tmp_path, spec, {}, calls)
    again = step(tmp_path, spec, {}, calls)  # the same step on a status read again
    assert planner.calls == ["clarify", "write_spec"]
    assert first["spec"]["documents"] == again["spec"]["documents"]


def test_planner_failures_are_remembered() -> None:
    calls = specflow.PlannerCalls()
    asked: list[int] = []

    def refuse() -> None:
        asked.append(1)
        raise AgentError("endpoint said 401")

    for _ in range(2):
        with pytest.raises(AgentError):
            calls.call(refuse)
    assert asked == [1]
