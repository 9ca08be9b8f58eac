"""spec.planning_needed agrees with reconcile; PlannerCalls asks the planner once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prazium_appgen import TemplatePlanner
from prazium_kit.models import ProjectSpec, ProjectStatus
from prazium_operator.agents import AgentError
from prazium_operator.reconcilers.project import spec as spec_step


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
    monkeypatch.setattr(spec_step, "get_planner", lambda *_a, **_k: counting)
    return counting


def needed(spec: dict[str, Any], status: ProjectStatus | None = None) -> bool:
    return spec_step.planning_needed(ProjectSpec.model_validate(spec), status or ProjectStatus())


def step(
    tmp_path: Path,
    spec: dict[str, Any],
    status: ProjectStatus | None = None,
    calls: spec_step.PlannerCalls | None = None,
) -> ProjectStatus:
    return spec_step.reconcile(
        tmp_path, "ns", "p", ProjectSpec.model_validate(spec), status or ProjectStatus(), 1, calls
    ).status


def test_planning_needed_follows_the_steps(tmp_path: Path, planner: CountingPlanner) -> None:
    spec: dict[str, Any] = {"displayName": "Notes", "description": "A notes app with tags"}
    assert needed(spec)
    status = step(tmp_path, spec)
    assert planner.calls == ["clarify"]
    assert not needed(spec, status)

    spec["answers"] = []
    assert needed(spec, status)
    status = step(tmp_path, spec, status)
    assert planner.calls == ["clarify", "write_spec"]
    assert not needed(spec, status)

    spec["approval"] = {"specVersion": 1}
    assert not needed(spec, status)  # approval needs no planner
    spec["regenerate"] = {"revision": 1, "feedback": "more"}
    assert needed(spec, status)
    assert not needed({**spec, "archived": True}, status)


def test_provided_documents_need_no_planner() -> None:
    documents = {key: "text" for key in spec_step.SPEC_DOCUMENTS}
    assert not needed(
        {"displayName": "Notes", "description": "A notes app with tags", "specDocuments": documents}
    )


def test_planner_calls_are_remembered(tmp_path: Path, planner: CountingPlanner) -> None:
    spec: dict[str, Any] = {"displayName": "Notes", "description": "A notes app", "answers": []}
    calls = spec_step.PlannerCalls()
    first = step(tmp_path, spec, None, calls)
    again = step(tmp_path, spec, None, calls)  # the same step on a status read again
    assert planner.calls == ["clarify", "write_spec"]
    assert first.spec is not None and again.spec is not None
    assert first.spec.documents == again.spec.documents


def test_planner_failures_are_remembered() -> None:
    calls = spec_step.PlannerCalls()
    asked: list[int] = []

    def refuse() -> None:
        asked.append(1)
        raise AgentError("endpoint said 401")

    for _ in range(2):
        with pytest.raises(AgentError):
            calls.call(refuse)
    assert asked == [1]


def test_a_new_spec_version_clears_the_approval(tmp_path: Path, planner: CountingPlanner) -> None:
    spec: dict[str, Any] = {"displayName": "Notes", "description": "A notes app", "answers": []}
    status = step(tmp_path, spec)
    spec["approval"] = {"specVersion": 1}
    approved = step(tmp_path, spec, status)
    assert approved.spec is not None and approved.spec.approved_version == 1
    assert approved.phase == "approved"
    spec["regenerate"] = {"revision": 1, "feedback": "more tags"}
    result = spec_step.reconcile(tmp_path, "ns", "p", ProjectSpec.model_validate(spec), approved, 2)
    patch = result.patch()
    assert patch["spec"]["version"] == 2
    # Written as nulls, so the merge patch removes version 1's approval.
    assert patch["spec"]["approvedVersion"] is None and patch["spec"]["commitSha"] is None
    assert patch["phase"] == "spec_review"
    assert patch["observedGeneration"] == 2
