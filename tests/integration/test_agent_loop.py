"""The coding-agent loop in real workers (local executor): the worker's contract
(result usage, reason and steps; AGENT_USAGE events; the transcript in the kept log)
from a worker process, and whole Runs whose tasks the loop carries out against the
providers' stand-ins: a failing test read and fixed, the run tool finding no secret, a
budget that is too small failing the Run with BudgetExceeded.

Worker Pods on the node: tests/integration/test_agent_loop_node.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prazium_kit import paths
from prazium_operator import gitrepo, recorder
from prazium_operator.worker_contract import WorkerRequest, log_path, request_path
from tests.support.agent_sessions import Call, Reply, SessionView, say
from tests.support.build import create, events, kubectl_apply, tasks_of, wait_phase, wait_run_done
from tests.support.llm_standin import LLMStandin
from tests.support.loop_scripts import HEALTH_FAILURE, fix_session, probe_session
from tests.support.providers import ANTHROPIC, OPENAI, PROVIDERS, Provider, env_for
from tests.support.services import ROOT, ServiceProcess, Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEYS = {
    OPENAI.name: "sk-loop-integration-1b2c3d4e5f60",
    ANTHROPIC.name: "sk-ant-loop-integration-6f5e4d3c2b1a",
}


@pytest.fixture(params=PROVIDERS, ids=lambda p: p.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    found: Provider = request.param
    return found


@pytest.fixture
def standin(provider: Provider) -> Iterator[LLMStandin]:
    with provider.standin(KEYS[provider.name]) as server:
        yield server


def _sandbox_env() -> dict[str, str]:
    # As root the run tool's commands get a uid of their own; otherwise this
    # single-tenant switch lets them run (as for the `command` coder).
    return {} if os.geteuid() == 0 else {"PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS": "true"}


# -- one worker process ------------------------------------------------------------


def _worker(
    data_dir: Path, provider: Provider, standin: LLMStandin, attempt: int, **fields: Any
) -> tuple[int, dict[str, Any], list[dict[str, Any]], str]:
    """Run one task attempt as `python -m prazium_operator.worker`: exit code, result
    file, event file lines, kept log."""
    repo = paths.repo_path(data_dir, "t1", "calc")
    if not repo.exists():
        gitrepo.init_bare(repo)
    base = gitrepo.rev_parse(repo, "main")
    assert base
    result = paths.result_path(data_dir, "t1", "calc-1", "task-001", attempt)
    request = WorkerRequest(
        namespace="t1",
        project="calc",
        run="calc-1",
        task={
            "id": "task-001",
            "slug": "calc",
            "description": "Add numbers",
            "pathScope": ["calc/**", "tests/**"],
            "expectedOutputs": ["calc/ops.py"],
            "testCommand": ["python", "-m", "unittest", "-v", "tests.test_ops"],
        },
        documents={"SPEC.md": "# Calc\n"},
        repo_path=str(repo),
        worktree=str(paths.task_worktree(data_dir, "t1", "calc", "calc-1", "task-001")),
        branch="feat/calc-1/task-001-calc",
        base_commit=base,
        attempt=attempt,
        result_path=str(result),
        coder=provider.name,
        coder_options={"model": "standin-1"},
        **fields,
    )
    result.parent.mkdir(parents=True, exist_ok=True)
    request_path(result).write_text(request.to_json())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PRAZIUM_")},
        **env_for(provider, standin.base_url, KEYS[provider.name], ""),
        **_sandbox_env(),
        "PRAZIUM_DATA_DIR": str(data_dir),
        "PRAZIUM_AGENT_MAX_STEPS": "9",
    }
    with log_path(result).open("ab") as output:
        code = subprocess.run(
            [
                sys.executable,
                "-m",
                "prazium_operator.worker",
                "--request",
                str(request_path(result)),
            ],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=output,
            timeout=300,
            check=False,
        ).returncode
    found = json.loads(result.read_text())
    lines = recorder.read_event_file(recorder.events_path(result))
    return code, found, lines, log_path(result).read_text()


TEST = (
    "import unittest\n\nfrom calc.ops import add\n\n\n"
    "class AddTest(unittest.TestCase):\n"
    "    def test_add(self):\n"
    "        self.assertEqual(add(2, 3), 5)\n"
)


def test_a_worker_reports_the_loops_usage_reason_and_steps(
    data_dir: Path, provider: Provider, standin: LLMStandin
) -> None:
    key = KEYS[provider.name]

    def fixed(view: SessionView) -> Reply:
        view.expect("run", contains="AssertionError: -1 != 5")
        return Reply(
            [Call("edit_file", {"path": "calc/ops.py", "old_string": "-", "new_string": "+"})]
        )

    def done(view: SessionView) -> Reply:
        view.expect("edit_file", error=False)
        return Reply([Call("finish", {"summary": "fixed"})])

    standin.script(
        "task-001",
        [
            say(
                Call("write_file", {"path": "calc/__init__.py", "content": ""}),
                Call(
                    "write_file",
                    {"path": "calc/ops.py", "content": "def add(a, b):\n    return a - b\n"},
                ),
                Call("write_file", {"path": "tests/__init__.py", "content": ""}),
                Call("write_file", {"path": "tests/test_ops.py", "content": TEST}),
                Call("run", {"command": "python -m unittest tests.test_ops"}),
            ),
            fixed,
            done,
        ],
    )
    code, result, lines, log = _worker(data_dir, provider, standin, 1)
    assert code == 0, log[-3000:]
    assert standin.session_failures == []
    assert result["status"] == "succeeded" and result["commitSha"]
    assert (result["reason"], result["steps"]) == ("Finished", 3)
    usage = result["usage"]
    assert (usage["provider"], usage["model"], usage["requests"]) == (provider.name, "standin-1", 3)
    assert usage["inputTokens"] > usage["cachedInputTokens"] > 0 and usage["outputTokens"] > 0
    # One AGENT_USAGE event per request, live in the event file and kept in the result.
    usage_events = [e for e in lines if e["type"] == "AGENT_USAGE"]
    assert [e["payload"]["request"] for e in usage_events] == [1, 2, 3]
    assert [e["key"] for e in usage_events] == [
        f"t1/calc-1/task-001/AGENT_USAGE/1/{n}" for n in (1, 2, 3)
    ]
    assert sum(e["payload"]["inputTokens"] for e in usage_events) == usage["inputTokens"]
    assert [e for e in result["journal"] if e["type"] == "AGENT_USAGE"] == usage_events
    identity = recorder.WorkerIdentity("t1", "calc", "calc-1", "task-001", 1, "calc", "b")
    assert len(recorder.worker_events(usage_events, identity)) == 3
    # The transcript in the kept log: each step, the real exit code, the stop reason.
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    agent = [r for r in records if r.get("logger") == "prazium.agent"]
    messages = [r["message"] for r in agent]
    assert any(
        m.startswith("step 1: run command='python -m unittest tests.test_ops' -> ok: exit 1")
        for m in messages
    ), messages
    assert any(m.startswith("step 2: edit_file path=calc/ops.py") for m in messages), messages
    assert messages[-1].startswith("stopped: Finished after 3 steps")
    assert all(r["task"] == "task-001" and r["attempt"] == 1 for r in agent)
    assert key not in log and key not in json.dumps(result)


def test_a_workers_budget_and_stop_file_end_the_task_with_budget_exceeded(
    data_dir: Path, provider: Provider, standin: LLMStandin
) -> None:
    standin.script("*", [lambda _v: Reply([Call("list_files", {})], usage=(700, 100, 0))] * 3)
    code, result, _, log = _worker(
        data_dir, provider, standin, 1, budget={"maxTokens": 1500, "maxCost": 100}
    )
    assert code == 1
    assert (result["status"], result["reason"], result["steps"]) == ("failed", "BudgetExceeded", 2)
    assert result["error"].startswith(
        "task-001: the agent stopped (BudgetExceeded: 1600 tokens spent of 1500 (the budget's"
        " maxTokens)) after 2 steps; the task's tests fail"
    )
    assert result["usage"]["requests"] == 2 and "cost" not in result["usage"]  # unpriced
    assert len(standin.session_requests()) == 2
    assert "exc_info" not in log  # a stop, not a crash

    stop = data_dir / "results" / "t1" / "calc-1" / "stop"
    stop.write_text("the run's budget is spent (cancelled by the operator)\n")
    standin.session_views.clear()
    code, result, _, _ = _worker(data_dir, provider, standin, 2, stop_file=str(stop))
    assert (code, result["reason"], result["steps"]) == (1, "BudgetExceeded", 0)
    assert "stopped by the operator: the run's budget is spent" in result["error"]
    assert standin.session_requests() == []  # not one request once the file is there
    code, result, _, log = _worker(
        data_dir, provider, standin, 3, agent_limits={"maxSteps": "many"}
    )
    assert code == 1 and "the request's agent_limits or budget is invalid" in result["error"]


# -- whole Runs through the operator -------------------------------------------------


def _operator(
    stack: Stack, namespace: str, data_dir: Path, logs: Path, env: dict[str, str]
) -> ServiceProcess:
    from tests.conftest import _heartbeat_seen

    proc = start_operator(stack, data_dir, [namespace], logs, **env)
    wait_for(lambda: _heartbeat_seen(stack.database_url, proc.pid), 30, "operator heartbeat", proc)
    return proc


def _build(
    stack: Stack, namespace: str, operator: ServiceProcess, provider: Provider, run: str
) -> dict[str, Any]:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)
    create(
        namespace,
        "runs",
        "Run",
        run,
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": provider.name, "model": "standin-1"},
        },
    )
    return wait_run_done(namespace, run, operator, timeout=600)


def test_a_run_whose_agent_fixes_a_failing_test_and_finds_no_secret_succeeds(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    provider: Provider,
    standin: LLMStandin,
) -> None:
    key = KEYS[provider.name]
    standin.script("task-001", fix_session())
    standin.script("task-002", probe_session(stack.kubeconfig, key))
    logs = tmp_path / "logs"
    env = {**env_for(provider, standin.base_url, key, ""), **_sandbox_env()}
    operator = _operator(stack, namespace, data_dir, logs, env)
    try:
        run = _build(stack, namespace, operator, provider, "notes-loop")
    finally:
        operator.stop()
    assert standin.session_failures == [], standin.session_failures
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    assert run["status"]["verificationResult"]["exitCode"] == 0
    tasks = tasks_of(namespace, "notes-loop")
    assert {t["status"]["phase"] for t in tasks} == {"succeeded"}
    # Every task was a session of the loop; task-001's had six steps.
    assert {v.task_id for v in standin.session_views} == {
        t["spec"]["definition"]["id"] for t in tasks
    }
    assert len(standin.session_requests("task-001")) == 6
    # task-001's kept log: its transcript, with the real failing run and the fix.
    result = paths.result_path(data_dir, namespace, "notes-loop", "task-001", 1)
    log = log_path(result).read_text()
    assert "step 3: run command='python -m unittest -v tests.test_health' -> ok: exit 1" in log
    assert "step 4: edit_file path=app/resources/health.py" in log
    assert "stopped: Finished after 6 steps" in log
    outcome = json.loads(result.read_text())
    assert (outcome["reason"], outcome["steps"], outcome["usage"]["requests"]) == ("Finished", 6, 6)
    # The journal has every request's usage, attributed to its task and attempt.
    journal = events(stack.database_url, namespace, "notes-loop")
    usage = [e for e in journal if e["type"] == "AGENT_USAGE"]
    per_task = {t["spec"]["definition"]["id"]: 0 for t in tasks}
    for event in usage:
        per_task[event["task"]] += 1
        assert event["payload"]["provider"] == provider.name and event["payload"]["attempt"] == 1
    assert per_task["task-001"] == 6 and per_task["task-002"] == 3 and min(per_task.values()) >= 2
    # The key is nowhere the operator, the workers or the tasks' code wrote.
    for path in [*data_dir.rglob("*"), *logs.rglob("*")]:
        if path.is_file() and not path.is_symlink():
            assert key.encode() not in path.read_bytes(), path
    assert key not in json.dumps(journal, default=str)
    assert HEALTH_FAILURE in log or "exit 1" in log


def test_a_budget_too_small_fails_the_run_with_budget_exceeded(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    provider: Provider,
    standin: LLMStandin,
) -> None:
    standin.script("*", [lambda _v: Reply([Call("list_files", {})], usage=(4000, 500, 0))] * 3)
    env = {
        **env_for(provider, standin.base_url, KEYS[provider.name], ""),
        **_sandbox_env(),
        "PRAZIUM_AGENT_MAX_TOKENS": "4000",
    }
    operator = _operator(stack, namespace, data_dir, tmp_path / "logs", env)
    try:
        run = _build(stack, namespace, operator, provider, "notes-budget")
    finally:
        operator.stop()
    assert run["status"]["phase"] == "failed"
    message = run["status"]["message"]
    assert message.startswith("task task-001 (app-shell) failed: task-001: the agent stopped")
    assert (
        "(BudgetExceeded: 4500 tokens spent of 4000 (the attempt's token limit)) after 1 steps"
        in message
    )
    assert len(standin.session_requests("task-001")) == 1
    [task] = [
        t
        for t in tasks_of(namespace, "notes-budget")
        if t["spec"]["definition"]["id"] == "task-001"
    ]
    assert task["status"]["phase"] == "failed" and "BudgetExceeded" in task["status"]["message"]
