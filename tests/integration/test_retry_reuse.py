"""Retries reuse finished work: only failed, cancelled and affected tasks call the coder.

The todo example's plan (the template planner's, read before the run starts) is a
graph with parallel branches. The coder is the `openai` coder against a real
loopback stand-in of the endpoint that counts its sessions per task and refuses the
first request of one task with dependents and a sibling started beside it (the last
such task in plan order), once every task that does not need it has its answer: run
1 fails with that task failed, its dependents cancelled and every other task
succeeded. Its retry must ask the model for the failed task and its dependents only;
a retry with spec.reuse false for every task.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from prazium_kit import ids
from tests.conftest import _heartbeat_seen
from tests.support.build import (
    create,
    events,
    git,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.plans import PlanGraph, template_plan
from tests.support.providers import OPENAI, env_for
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for
from tests.support.task_standin import TaskCountingStandin

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY = "sk-test-integration-reuse-3c8e1f"
PROJECT = "todo-answered"


@pytest.fixture
def standin() -> Iterator[TaskCountingStandin]:
    with TaskCountingStandin(KEY) as server:
        yield server


@pytest.fixture
def llm_operator(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path, standin: TaskCountingStandin
) -> Iterator[ServiceProcess]:
    env = env_for(OPENAI, standin.base_url, KEY, "standin-1")
    proc = start_operator(stack, data_dir, [namespace], tmp_path / "logs", **env)
    wait_for(lambda: _heartbeat_seen(stack.database_url, proc.pid), 30, "heartbeat", proc)
    yield proc
    proc.stop()


def _project(namespace: str, operator: ServiceProcess) -> dict[str, Any]:
    """examples/project-answered.yaml with the openai coder (the template planner)."""
    example = yaml.safe_load((EXAMPLES / "project-answered.yaml").read_text())
    spec = {**example["spec"], "agent": {"coder": "openai", "model": "standin-1"}}
    create(namespace, "projects", "Project", PROJECT, spec)
    return wait_phase(namespace, "projects", PROJECT, {"approved"}, operator, timeout=120)


def _tasks(namespace: str, run: str) -> dict[str, dict[str, Any]]:
    return {t["spec"]["definition"]["id"]: t for t in tasks_of(namespace, run)}


def test_a_retry_calls_the_coder_only_for_failed_cancelled_and_affected_tasks(
    stack: Stack,
    namespace: str,
    llm_operator: ServiceProcess,
    data_dir: Path,
    standin: TaskCountingStandin,
    http: httpx.Client,
) -> None:
    project = _project(namespace, llm_operator)
    repo = data_dir / project["status"]["repoPath"]
    plan = template_plan(repo, project)
    every = sorted(plan.order)
    failing = plan.failing_beside_a_sibling()
    expected = plan.phases_after_failure(failing)
    assert "cancelled" in expected.values() and len(plan.siblings(failing)) >= 1
    standin.refuse_once(failing, after=[t for t, p in expected.items() if p == "succeeded"])
    create(namespace, "runs", "Run", "todo-1", {"projectRef": {"name": PROJECT}})
    first = wait_run_done(namespace, "todo-1", llm_operator, timeout=240)
    assert first["status"]["phase"] == "failed"
    assert failing in first["status"]["message"], first["status"]["message"]
    earlier = _tasks(namespace, "todo-1")
    assert PlanGraph.of_run(earlier.values()) == plan  # the plan read ahead is the run's
    phases = {task_id: t["status"]["phase"] for task_id, t in earlier.items()}
    assert phases == expected
    # The model was asked for every task but the cancelled ones, once each.
    assert sorted(standin.coded) == sorted(t for t, p in expected.items() if p != "cancelled")
    rerun = plan.dependents({t for t, p in phases.items() if p != "succeeded"})
    assert rerun == {t for t, p in expected.items() if p != "succeeded"}
    assert len(rerun) >= 2 and len(set(every) - rerun) >= 2  # both kinds, to tell them apart
    main_before = git(repo, "rev-parse", "main").strip()

    # The retry, through the API as a user would ask for it.
    before = len(standin.coded)
    answer = http.post(f"/projects/proj_{PROJECT}/runs/run_todo-1/retry")
    assert answer.status_code == 201, answer.text
    retry = answer.json()["data"]["id"].removeprefix("run_")
    run = wait_run_done(namespace, retry, llm_operator, timeout=240)
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    assert run["status"]["verificationResult"]["failed"] == 0
    assert sorted(standin.coded[before:]) == sorted(rerun)  # one session each, no others
    assert run["status"]["plan"]["tasks"] == first["status"]["plan"]["tasks"]

    now = _tasks(namespace, retry)
    for task_id in every:
        status = now[task_id]["status"]
        assert status["phase"] == "succeeded", (task_id, status)
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        if task_id in rerun:
            assert "reusedFrom" not in status and ready["reason"] == "Succeeded"
            continue
        assert status["reusedFrom"] == f"todo-1/{task_id}"
        assert ready["reason"] == "Reused"
        assert "reused" in status["message"] and "todo-1" in status["message"]
        old_commit = earlier[task_id]["status"]["result"]["commitSha"]
        assert status["result"]["commitSha"] == old_commit
        # Its branch points at the earlier commit: the merge is the same as had it run.
        assert git(repo, "rev-parse", status["branchName"]).strip() == old_commit
        assert status["branchName"].startswith("feat/run-2/")
        assert status["baseCommit"] == earlier[task_id]["status"]["baseCommit"]
    # The re-run tasks started from the reused commits of their dependencies.
    for task_id in rerun:
        base = now[task_id]["status"]["baseCommit"]
        for dep in now[task_id]["spec"]["definition"]["dependencies"]:
            dep_commit = now[dep]["status"]["result"]["commitSha"]
            assert git(repo, "merge-base", "--is-ancestor", dep_commit, base) == ""
    assert git(repo, "rev-parse", "main").strip() == run["status"]["mergedCommit"] != main_before

    journal = wait_final_event(stack.database_url, namespace, retry, llm_operator)
    reused = [e for e in journal if e["type"] == "TASK_REUSED"]
    assert sorted(e["task"] for e in reused) == sorted(set(every) - rerun)
    assert {e["payload"]["reusedFrom"]["runId"] for e in reused} == {"run_todo-1"}
    assert sorted(e["task"] for e in journal if e["type"] == "TASK_STARTED") == sorted(rerun)
    completed = {e["task"]: e["payload"] for e in journal if e["type"] == "TASK_COMPLETED"}
    assert sorted(completed) == every
    assert {t for t, p in completed.items() if p.get("reused")} == set(every) - rerun
    plan_created = next(e for e in journal if e["type"] == "PLAN_CREATED")
    assert plan_created["payload"]["takenFrom"] == "run_todo-1"
    # Each reused task's TASK_REUSED comes right before its TASK_COMPLETED.
    kinds = [(e["type"], e["task"]) for e in journal]
    for event in reused:
        at = kinds.index(("TASK_REUSED", event["task"]))
        assert kinds[at + 1] == ("TASK_COMPLETED", event["task"])

    # The API: the task answers say where the work came from; the log too.
    base = f"/projects/proj_{PROJECT}/runs/run_{retry}"
    listed = {t["id"]: t for t in http.get(f"{base}/tasks").json()["data"]}
    brief = {t["id"]: t for t in http.get(base).json()["data"]["tasks"]}
    assert sorted(listed) == sorted(brief) == sorted(ids.task_id(t) for t in every)
    for task_id in every:
        api_id = ids.task_id(task_id)
        if task_id in rerun:
            assert "reusedFrom" not in listed[api_id] and "reusedFrom" not in brief[api_id]
        else:
            assert listed[api_id]["reusedFrom"] == f"run_todo-1/{api_id}"
            assert brief[api_id]["reusedFrom"] == f"run_todo-1/{api_id}"
    assert plan.order[0] not in rerun
    log = http.get(f"{base}/tasks/{ids.task_id(plan.order[0])}/logs")
    assert log.status_code == 200, log.text
    assert "reused" in log.text and "todo-1" in log.text and "no agent" in log.text

    # spec.reuse false: everything runs again (and the plan is asked for again).
    before = len(standin.coded)
    create(
        namespace,
        "runs",
        "Run",
        "todo-full",
        {"projectRef": {"name": PROJECT}, "trigger": "retry", "retryOf": "todo-1", "reuse": False},
    )
    full = wait_run_done(namespace, "todo-full", llm_operator, timeout=240)
    assert full["status"]["phase"] == "succeeded", full["status"].get("message")
    assert sorted(standin.coded[before:]) == every
    assert not any(t["status"].get("reusedFrom") for t in tasks_of(namespace, "todo-full"))
    full_journal = events(stack.database_url, namespace, "todo-full")
    assert "TASK_REUSED" not in {e["type"] for e in full_journal}
    assert sorted(e["task"] for e in full_journal if e["type"] == "TASK_STARTED") == every
