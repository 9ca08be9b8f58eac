"""The openai agent end to end: operator and workers talk to a real HTTP stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _heartbeat_seen
from tests.support.build import create, get, patch_spec, wait_observed, wait_run_done
from tests.support.openai_standin import OpenAIStandin
from tests.support.services import Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
KEY = "sk-test-integration-5f3c9a7e1d2b"


@pytest.fixture
def standin() -> Iterator[OpenAIStandin]:
    with OpenAIStandin(KEY) as server:
        yield server


def test_a_project_built_with_the_openai_agent_verifies(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path, standin: OpenAIStandin
) -> None:
    log_dir = tmp_path / "logs"
    operator = start_operator(stack, data_dir, [namespace], log_dir,
                              PRAZIUM_OPENAI_BASE_URL=standin.base_url, OPENAI_API_KEY=KEY,
                              PRAZIUM_OPENAI_MODEL="", PRAZIUM_LOG_LEVEL="DEBUG")
    try:
        wait_for(lambda: _heartbeat_seen(stack.database_url, operator.pid), 30,
                 "operator heartbeat", operator)
        created = create(namespace, "projects", "Project", "notes", {
            "displayName": "Notes", "description": "A notes app where writers keep notes with"
            " tags", "agent": {"planner": "openai", "coder": "openai", "model": "standin-1"}})
        status = wait_observed(namespace, "projects", "notes",
                               created["metadata"]["generation"], operator)["status"]
        assert status["questions"][0]["id"] == "q1", status
        generation = patch_spec(namespace, "projects", "notes", {"answers": []})
        status = wait_observed(namespace, "projects", "notes", generation, operator)["status"]
        assert status["spec"]["version"] == 1, status
        generation = patch_spec(namespace, "projects", "notes",
                                {"approval": {"specVersion": 1}})
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

    kinds = [r["body"]["response_format"]["json_schema"]["name"] for r in standin.requests]
    assert kinds[:3] == ["questions", "spec_documents", "plan"], kinds
    assert kinds.count("files") == len(run["status"]["plan"]["tasks"])
    assert {r["body"]["model"] for r in standin.requests} == {"standin-1"}
    assert all(r["headers"]["authorization"] == f"Bearer {KEY}" for r in standin.requests)

    logs = [log_dir / "operator.log", *sorted(data_dir.rglob("*.log"))]
    assert len(logs) > 1  # the operator's and the workers'
    for path in logs:
        assert KEY not in path.read_text(errors="replace"), path


def test_an_endpoint_that_refuses_the_key_stalls_the_project_saying_why(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path, standin: OpenAIStandin
) -> None:
    wrong_key = "sk-test-wrong-0a1b2c3d4e5f"
    operator = start_operator(stack, data_dir, [namespace], tmp_path / "logs",
                              PRAZIUM_OPENAI_BASE_URL=standin.base_url,
                              OPENAI_API_KEY=wrong_key, PRAZIUM_OPENAI_MODEL="standin-1")
    try:
        wait_for(lambda: _heartbeat_seen(stack.database_url, operator.pid), 30,
                 "operator heartbeat", operator)
        created = create(namespace, "projects", "Project", "denied", {
            "displayName": "Denied", "description": "A notes app whose endpoint says no",
            "agent": {"planner": "openai"}})
        status = wait_observed(namespace, "projects", "denied",
                               created["metadata"]["generation"], operator)["status"]
    finally:
        operator.stop()
    stalled = next(c for c in status["conditions"] if c["type"] == "Stalled")
    assert stalled["status"] == "True" and stalled["reason"] == "AgentFailed", status
    assert "401" in status["message"], status["message"]
    assert wrong_key not in status["message"]
    assert not status.get("questions")
