"""The anthropic agent end to end: operator and workers talk to a real HTTP stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _heartbeat_seen
from tests.support.anthropic_standin import AnthropicStandin
from tests.support.build import create, get, patch_spec, wait_observed, wait_run_done
from tests.support.services import Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
KEY = "sk-ant-test-integration-7d1e4b9c2a6f"


@pytest.fixture
def standin() -> Iterator[AnthropicStandin]:
    with AnthropicStandin(KEY) as server:
        yield server


def test_a_project_built_with_the_anthropic_agent_verifies(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path, standin: AnthropicStandin
) -> None:
    log_dir = tmp_path / "logs"
    operator = start_operator(stack, data_dir, [namespace], log_dir,
                              PRAZIUM_ANTHROPIC_BASE_URL=standin.base_url, ANTHROPIC_API_KEY=KEY,
                              PRAZIUM_ANTHROPIC_MODEL="", PRAZIUM_LOG_LEVEL="DEBUG")
    try:
        wait_for(lambda: _heartbeat_seen(stack.database_url, operator.pid), 30,
                 "operator heartbeat", operator)
        created = create(namespace, "projects", "Project", "journal", {
            "displayName": "Journal", "description": "A journal app where writers keep entries"
            " with tags", "agent": {"planner": "anthropic", "coder": "anthropic",
                                    "model": "standin-1"}})
        status = wait_observed(namespace, "projects", "journal",
                               created["metadata"]["generation"], operator)["status"]
        assert status["questions"][0]["id"] == "q1", status
        generation = patch_spec(namespace, "projects", "journal", {"answers": []})
        status = wait_observed(namespace, "projects", "journal", generation, operator)["status"]
        assert status["spec"]["version"] == 1, status
        generation = patch_spec(namespace, "projects", "journal",
                                {"approval": {"specVersion": 1}})
        status = wait_observed(namespace, "projects", "journal", generation, operator)["status"]
        assert status["phase"] == "approved", status

        create(namespace, "runs", "Run", "journal-build", {"projectRef": {"name": "journal"}})
        run = wait_run_done(namespace, "journal-build", operator)
        assert run["status"]["phase"] == "succeeded", run["status"].get("message")
        verification = run["status"]["verificationResult"]
        assert verification["exitCode"] == 0 and verification["passed"] > 0, verification
        assert verification["failed"] == 0
        project = get(namespace, "projects", "journal")
        assert project is not None and project["status"]["phase"] == "built"
    finally:
        operator.stop()

    kinds = [r["body"]["tool_choice"]["name"] for r in standin.requests]
    assert kinds[:3] == ["questions", "spec_documents", "plan"], kinds
    assert kinds.count("files") == len(run["status"]["plan"]["tasks"])
    assert {r["body"]["model"] for r in standin.requests} == {"standin-1"}
    assert all(r["headers"]["x-api-key"] == KEY for r in standin.requests)
    assert all(r["headers"]["anthropic-version"] == "2023-06-01" for r in standin.requests)

    logs = [log_dir / "operator.log", *sorted(data_dir.rglob("*.log"))]
    assert len(logs) > 1  # the operator's and the workers'
    for path in logs:
        assert KEY not in path.read_text(errors="replace"), path
