"""The LLM agents end to end: operator and workers talk to a real HTTP stand-in.

Every test runs for every provider (tests/support/providers.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _heartbeat_seen
from tests.support.build import create, get, patch_spec, wait_observed, wait_run_done
from tests.support.llm_standin import LLMStandin
from tests.support.providers import ANTHROPIC, OPENAI, PROVIDERS, Provider, env_for
from tests.support.services import Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
KEYS = {
    OPENAI.name: "sk-test-integration-5f3c9a7e1d2b",
    ANTHROPIC.name: "sk-ant-test-integration-7d1e4b9c2a6f",
}


@pytest.fixture(params=PROVIDERS, ids=lambda p: p.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    found: Provider = request.param
    return found


@pytest.fixture
def key(provider: Provider) -> str:
    return KEYS[provider.name]


@pytest.fixture
def standin(provider: Provider, key: str) -> Iterator[LLMStandin]:
    with provider.standin(key) as server:
        yield server


def test_a_project_built_with_the_agent_verifies(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    provider: Provider,
    key: str,
    standin: LLMStandin,
) -> None:
    log_dir = tmp_path / "logs"
    operator = start_operator(
        stack,
        data_dir,
        [namespace],
        log_dir,
        **env_for(provider, standin.base_url, key, model=""),
        PRAZIUM_LOG_LEVEL="DEBUG",
    )
    try:
        wait_for(
            lambda: _heartbeat_seen(stack.database_url, operator.pid),
            30,
            "operator heartbeat",
            operator,
        )
        created = create(
            namespace,
            "projects",
            "Project",
            "notes",
            {
                "displayName": "Notes",
                "description": "A notes app where writers keep notes with tags",
                "agent": {"planner": provider.name, "coder": provider.name, "model": "standin-1"},
            },
        )
        status = wait_observed(
            namespace, "projects", "notes", created["metadata"]["generation"], operator
        )["status"]
        assert status["questions"][0]["id"] == "q1", status
        generation = patch_spec(namespace, "projects", "notes", {"answers": []})
        status = wait_observed(namespace, "projects", "notes", generation, operator)["status"]
        assert status["spec"]["version"] == 1, status
        generation = patch_spec(namespace, "projects", "notes", {"approval": {"specVersion": 1}})
        status = wait_observed(namespace, "projects", "notes", generation, operator)["status"]
        assert status["phase"] == "approved", status

        create(namespace, "runs", "Run", "notes-build", {"projectRef": {"name": "notes"}})
        run = wait_run_done(namespace, "notes-build", operator)
        assert run["status"]["phase"] == "succeeded", run["status"].get("message")
        verification = run["status"]["verificationResult"]
        assert verification["exitCode"] == 0 and verification["passed"] > 0, verification
        assert verification["failed"] == 0
        project = get(namespace, "projects", "notes")
        assert project is not None and project["status"]["phase"] == "built"
    finally:
        operator.stop()

    # The planner asks for structured answers; each task is a coding-agent session.
    structured = [r for r in standin.requests if not standin.is_session(r["body"])]
    kinds = [provider.asked(r["body"])[0] for r in structured]
    assert kinds == ["questions", "spec_documents", "plan"], kinds
    assert standin.session_failures == []
    task_ids = {t["id"] for t in run["status"]["plan"]["tasks"]}
    assert {v.task_id for v in standin.session_views} == task_ids
    # Each task owned the tests the planner named for it, and finished with them passing.
    assert all(
        v.inputs["testCommand"][:3] == ["python", "-m", "unittest"] for v in standin.session_views
    )
    assert {r["body"]["model"] for r in standin.requests} == {"standin-1"}
    assert all(r["headers"].items() >= provider.auth(key).items() for r in standin.requests)

    logs = [log_dir / "operator.log", *sorted(data_dir.rglob("*.log"))]
    assert len(logs) > 1  # the operator's and the workers'
    for path in logs:
        assert key not in path.read_text(errors="replace"), path


def test_an_endpoint_that_refuses_the_key_stalls_the_project_saying_why(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    provider: Provider,
    standin: LLMStandin,
) -> None:
    wrong_key = "sk-test-wrong-0a1b2c3d4e5f"
    operator = start_operator(
        stack,
        data_dir,
        [namespace],
        tmp_path / "logs",
        **env_for(provider, standin.base_url, wrong_key, "standin-1"),
    )
    try:
        wait_for(
            lambda: _heartbeat_seen(stack.database_url, operator.pid),
            30,
            "operator heartbeat",
            operator,
        )
        created = create(
            namespace,
            "projects",
            "Project",
            "denied",
            {
                "displayName": "Denied",
                "description": "A notes app whose endpoint says no",
                "agent": {"planner": provider.name},
            },
        )
        status = wait_observed(
            namespace, "projects", "denied", created["metadata"]["generation"], operator
        )["status"]
    finally:
        operator.stop()
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "AgentFailed", status
    assert "401" in status["message"], status["message"]
    assert wrong_key not in status["message"]
    assert not status.get("questions")


def _condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    found = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in found if c.get("type") == kind), {})


def _planning(namespace: str, name: str) -> dict[str, Any] | None:
    obj = get(namespace, "projects", name)
    reconciling = _condition(obj, "Reconciling")
    if reconciling.get("status") == "True" and reconciling.get("reason") == "Planning":
        return obj
    return None


def _requests_seen(standin: LLMStandin, count: int) -> bool:
    return len(standin.requests) >= count


def test_a_slow_planner_runs_off_the_handler_and_the_latest_generation_wins(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    provider: Provider,
    key: str,
    standin: LLMStandin,
) -> None:
    slow = 10.0
    operator = start_operator(
        stack,
        data_dir,
        [namespace],
        tmp_path / "logs",
        **env_for(provider, standin.base_url, key, "standin-1"),
    )
    agent = {"planner": provider.name}
    try:
        wait_for(
            lambda: _heartbeat_seen(stack.database_url, operator.pid),
            30,
            "operator heartbeat",
            operator,
        )
        standin.delay_next(slow)
        started = time.monotonic()
        slow_project = create(
            namespace,
            "projects",
            "Project",
            "slow",
            {
                "displayName": "Slow",
                "description": "A notes app where writers keep notes",
                "agent": agent,
            },
        )
        wait_for(lambda: _requests_seen(standin, 1), 30, "the slow clarify request", operator)

        # (a) the slow planner holds neither the operator nor its own status
        quick = create(
            namespace,
            "projects",
            "Project",
            "quick",
            {"displayName": "Quick", "description": "A todo app with tags", "agent": agent},
        )
        status = wait_observed(
            namespace, "projects", "quick", quick["metadata"]["generation"], operator
        )["status"]
        assert status["questions"], status
        planning = wait_for(
            lambda: _planning(namespace, "slow"), 10, "slow to show Planning", operator
        )
        assert time.monotonic() - started < slow, "the quick project waited for the slow one"
        assert not planning["status"].get("observedGeneration"), planning["status"]
        assert not planning["status"].get("questions"), planning["status"]
        assert "planner" in _condition(planning, "Reconciling")["message"]

        # (b) then the slow one reaches its questions, observed in the same patch
        generation = slow_project["metadata"]["generation"]
        status = wait_observed(
            namespace, "projects", "slow", generation, operator, timeout=slow + 30
        )["status"]
        assert status["observedGeneration"] == generation
        assert status["questions"][0]["id"] == "q1", status
        assert status["phase"] == "clarifying"
        assert _condition({"status": status}, "Reconciling")["status"] == "False", status

        # (c) an edit during planning ends with the newer generation's result
        count = len(standin.requests)
        standin.delay_next(slow)
        patch_spec(namespace, "projects", "slow", {"answers": []})
        wait_for(
            lambda: _requests_seen(standin, count + 1), 30, "the slow write_spec request", operator
        )
        wait_for(lambda: _planning(namespace, "slow"), 10, "slow to show Planning", operator)
        newest = patch_spec(
            namespace,
            "projects",
            "slow",
            {"regenerate": {"revision": 1, "feedback": "Also track tags"}},
        )
        status = wait_observed(namespace, "projects", "slow", newest, operator)["status"]
        assert status["observedGeneration"] == newest
        assert status["spec"]["version"] == 1 and status["spec"]["revision"] == 1, status
        time.sleep(slow)  # the superseded request has answered by now; its result is dropped
        project = get(namespace, "projects", "slow")
        assert project is not None
        assert project["status"]["spec"]["version"] == 1, project["status"]
        assert project["status"]["spec"]["revision"] == 1, project["status"]
        assert project["status"]["observedGeneration"] == newest
        assert project["status"]["phase"] == "spec_review"
    finally:
        operator.stop()


def test_planning_interrupted_by_an_operator_crash_starts_again_on_the_next_start(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    provider: Provider,
    key: str,
    standin: LLMStandin,
) -> None:
    env = env_for(provider, standin.base_url, key, "standin-1")
    operator = start_operator(stack, data_dir, [namespace], tmp_path / "logs1", **env)
    try:
        wait_for(
            lambda: _heartbeat_seen(stack.database_url, operator.pid),
            30,
            "operator heartbeat",
            operator,
        )
        standin.delay_next(30.0)
        created = create(
            namespace,
            "projects",
            "Project",
            "crashy",
            {
                "displayName": "Crashy",
                "description": "A notes app where writers keep notes",
                "agent": {"planner": provider.name},
            },
        )
        wait_for(lambda: _planning(namespace, "crashy"), 30, "crashy to show Planning", operator)
        wait_for(lambda: _requests_seen(standin, 1), 30, "the clarify request", operator)
        operator.kill()
    finally:
        operator.stop()
    project = get(namespace, "projects", "crashy")
    assert project is not None and not project["status"].get("observedGeneration")

    operator = start_operator(stack, data_dir, [namespace], tmp_path / "logs2", **env)
    try:
        status = wait_observed(
            namespace, "projects", "crashy", created["metadata"]["generation"], operator
        )["status"]
    finally:
        operator.stop()
    assert status["questions"][0]["id"] == "q1", status
    assert _condition({"status": status}, "Reconciling")["status"] == "False", status
    assert len(standin.requests) == 2  # asked again after the restart
