"""Failing, cancelling, retrying, racing and crashing runs against the real stack."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from pathlib import Path

import pytest
from kubernetes import client

from tests.support.build import (
    create,
    events,
    get,
    git,
    kubectl_apply,
    patch_spec,
    tasks_of,
    wait_final_event,
    wait_observed,
    wait_phase,
    wait_run_done,
)
from tests.support.sandbox_python import python_line
from tests.support.services import (
    ServiceProcess,
    Stack,
    cmdline,
    group_members,
    kill_workers,
    processes_naming,
    start_operator,
    wait_for,
)

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _approved_project(stack: Stack, namespace: str, operator: ServiceProcess) -> dict:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    return wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)


def _group_alive(pgid: int) -> bool:
    """A live (not zombie) process remains in the group; init reaps zombies when it can."""
    return bool(group_members(pgid))


# The template coder driven through the `command` coder from the worktree's own
# docs/spec; task-001's first attempt sleeps first, so it is reliably mid-task.
_TEMPLATE_FROM_WORKTREE = (
    "import json, os, pathlib\n"
    "from prazium_operator.agents import get_coder\n"
    "docs = {p.name: p.read_text() for p in pathlib.Path('docs/spec').glob('*.md')}\n"
    "get_coder('template').code(json.loads(os.environ['PRAZIUM_TASK_JSON']), docs,"
    " pathlib.Path('.'))\n"
)
SLOW_ON_FIRST_ATTEMPT = (
    '[ "$PRAZIUM_TASK_ATTEMPT" = 1 ] && [ "$PRAZIUM_TASK_ID" = task-001 ] && sleep 30; '
    f"{python_line(_TEMPLATE_FROM_WORKTREE)}"
)


def test_out_of_scope_write_fails_the_task_and_the_run_naming_the_path(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path
) -> None:
    project = _approved_project(stack, namespace, operator)
    repo = data_dir / project["status"]["repoPath"]
    main_before = git(repo, "rev-parse", "main").strip()
    create(
        namespace,
        "runs",
        "Run",
        "notes-bad",
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": "command", "command": "echo stray > outside.txt"},
        },
    )
    run = wait_run_done(namespace, "notes-bad", operator)
    assert run["status"]["phase"] == "failed"
    message = run["status"]["message"]
    assert "task-001" in message and "outside.txt" in message and "pathScope" in message
    tasks = {t["spec"]["definition"]["id"]: t["status"] for t in tasks_of(namespace, "notes-bad")}
    assert tasks["task-001"]["phase"] == "failed"
    assert "outside.txt" in tasks["task-001"]["message"]
    assert {tasks[t]["phase"] for t in tasks if t != "task-001"} == {"cancelled"}
    assert git(repo, "rev-parse", "main").strip() == main_before
    journal = wait_final_event(stack.database_url, namespace, "notes-bad", operator)
    types = [e["type"] for e in journal]
    assert types[-1] == "RUN_FAILED" and "TASK_FAILED" in types
    assert "MERGE_STARTED" not in types
    assert types.count("TASK_CANCELLED") == len(tasks) - 1


def test_cancel_stops_the_worker_and_a_retry_then_succeeds(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path
) -> None:
    project = _approved_project(stack, namespace, operator)
    repo = data_dir / project["status"]["repoPath"]
    main_before = git(repo, "rev-parse", "main").strip()
    create(
        namespace,
        "runs",
        "Run",
        "notes-slow",
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": "command", "command": "sleep 60"},
        },
    )

    def worker_pid() -> int | None:
        tasks = tasks_of(namespace, "notes-slow")
        pids = [t.get("status", {}).get("executor", {}).get("pid") for t in tasks]
        return next((pid for pid in pids if pid), None)

    pid = wait_for(worker_pid, 30, "a worker to start", operator, interval=0.1)
    assert _group_alive(pid)
    patch_spec(namespace, "runs", "notes-slow", {"cancel": True})
    run = wait_run_done(namespace, "notes-slow", operator, timeout=30)
    assert run["status"]["phase"] == "cancelled"
    assert not _group_alive(pid), "the worker (or its children) survived the cancel"
    assert {t["status"]["phase"] for t in tasks_of(namespace, "notes-slow")} == {"cancelled"}
    assert git(repo, "rev-parse", "main").strip() == main_before
    worktrees = git(repo, "worktree", "list", "--porcelain")
    assert "locked" not in worktrees and worktrees.count("worktree ") == 1, worktrees
    journal = wait_final_event(stack.database_url, namespace, "notes-slow", operator)
    assert journal[-1]["type"] == "RUN_CANCELLED"

    create(
        namespace,
        "runs",
        "Run",
        "notes-retry",
        {"projectRef": {"name": "notes-gitops"}, "trigger": "retry", "retryOf": "notes-slow"},
    )
    retry = wait_run_done(namespace, "notes-retry", operator)
    assert retry["status"]["phase"] == "succeeded", retry["status"].get("message")
    assert retry["status"]["specSnapshot"] == run["status"]["specSnapshot"]
    assert retry["status"]["runNumber"] == 2
    assert retry["status"]["verificationResult"]["passed"] > 0
    assert git(repo, "rev-parse", "main").strip() == retry["status"]["mergedCommit"]


def test_two_runs_created_together_get_distinct_numbers_and_build_one_at_a_time(
    stack: Stack, namespace: str, operator: ServiceProcess
) -> None:
    _approved_project(stack, namespace, operator)
    barrier = threading.Barrier(2)

    def make(name: str) -> None:
        barrier.wait()
        create(namespace, "runs", "Run", name, {"projectRef": {"name": "notes-gitops"}})

    threads = [threading.Thread(target=make, args=(n,)) for n in ("notes-a", "notes-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def someone_waits() -> str | None:
        for name in ("notes-a", "notes-b"):
            status = (get(namespace, "runs", name) or {}).get("status") or {}
            if status.get("phase") == "pending" and "waiting for run" in status.get("message", ""):
                return name
        return None

    wait_for(someone_waits, 30, "one run to wait for the other", operator, interval=0.05)
    runs = [wait_run_done(namespace, name, operator) for name in ("notes-a", "notes-b")]
    assert sorted(r["status"]["runNumber"] for r in runs) == [1, 2]
    assert [r["status"]["phase"] for r in runs] == ["succeeded", "succeeded"]
    first, second = sorted(runs, key=lambda r: r["status"]["startedAt"])
    assert first["status"]["completedAt"] <= second["status"]["startedAt"]
    project = get(namespace, "projects", "notes-gitops")
    assert project is not None and project["status"]["runCounter"] == 2


def test_operator_killed_mid_run_resumes_without_duplicates(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path, tmp_path: Path
) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-answered.yaml")
    project = wait_phase(namespace, "projects", "todo-answered", {"approved"}, operator)
    repo = data_dir / project["status"]["repoPath"]
    create(
        namespace,
        "runs",
        "Run",
        "todo-crash",
        {"projectRef": {"name": "todo-answered"}, "parallelism": 1},
    )

    def completed(count: int) -> bool:
        journal = events(stack.database_url, namespace, "todo-crash")
        return sum(e["type"] == "TASK_COMPLETED" for e in journal) >= count

    wait_for(lambda: completed(2), 60, "two tasks to complete", operator, interval=0.05)
    operator.kill()  # SIGKILL: no cleanup; a running worker lives on
    mid = get(namespace, "runs", "todo-crash")
    assert mid is not None and mid["status"]["phase"] == "executing"

    restarted = start_operator(stack, data_dir, [namespace], tmp_path / "logs-restarted")
    try:
        run = wait_run_done(namespace, "todo-crash", restarted, timeout=120)
        journal = wait_final_event(stack.database_url, namespace, "todo-crash", restarted)
    finally:
        restarted.stop()
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    assert run["status"]["verificationResult"]["exitCode"] == 0

    counts = Counter((e["type"], e["task"]) for e in journal)
    task_ids = [t["id"] for t in run["status"]["plan"]["tasks"]]
    for task_id in task_ids:
        assert counts[("TASK_COMPLETED", task_id)] == 1, task_id
    for key in ("RUN_STARTED", "PLAN_CREATED", "MERGE_COMPLETED"):
        assert counts[(key, None)] == 1, key
    assert sum(e["type"] in {"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"} for e in journal) == 1
    # Exactly one commit per task on its branch, and one per task in main's history.
    for task in tasks_of(namespace, "todo-crash"):
        base, branch = task["status"]["baseCommit"], task["status"]["branchName"]
        assert git(repo, "rev-list", "--count", f"{base}..{branch}").strip() == "1", branch
    subjects = git(repo, "log", "--no-merges", "--format=%s", "main").splitlines()
    for task_id in task_ids:
        assert sum(s.startswith(f"{task_id} ") for s in subjects) == 1, subjects
    events_api = (
        client.CoreV1Api()
        .list_namespaced_event(namespace, field_selector="involvedObject.name=todo-crash")
        .items
    )
    assert "RunSucceeded" in {e.reason for e in events_api}


def test_lost_worker_is_rerun_as_attempt_2_without_duplicates(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path, tmp_path: Path
) -> None:
    """Operator and worker both SIGKILLed mid-task: the new operator finds the worker
    gone without a result (LOST) and re-runs the task as attempt 2."""
    project = _approved_project(stack, namespace, operator)
    repo = data_dir / project["status"]["repoPath"]
    create(
        namespace,
        "runs",
        "Run",
        "notes-lost",
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": "command", "command": SLOW_ON_FIRST_ATTEMPT},
        },
    )

    def first_attempt_running() -> int | None:
        tasks = tasks_of(namespace, "notes-lost")
        status = tasks[0].get("status", {}) if tasks else {}
        started = [
            e
            for e in events(stack.database_url, namespace, "notes-lost")
            if e["type"] == "TASK_STARTED"
        ]
        pid = status.get("executor", {}).get("pid")
        return pid if pid and started and status.get("attempts") == 1 else None

    pid = wait_for(
        first_attempt_running, 30, "task-001's first attempt to start", operator, interval=0.05
    )
    # Once the coder's `sleep` runs, the worker is mid-task (no git command in flight):
    # kill the operator, then the worker's whole group.
    wait_for(
        lambda: any(cmdline(p).startswith(b"sleep\0") for p in group_members(pid)),
        10,
        "the command's sleep to run",
        operator,
        interval=0.05,
    )
    operator.kill()
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not group_members(pid), 10, "the worker's process group to die")

    restarted = start_operator(stack, data_dir, [namespace], tmp_path / "logs-restarted")
    try:
        run = wait_run_done(namespace, "notes-lost", restarted, timeout=60)
        journal = wait_final_event(stack.database_url, namespace, "notes-lost", restarted)
    finally:
        restarted.stop()
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    assert run["status"]["verificationResult"]["exitCode"] == 0
    tasks = {t["spec"]["definition"]["id"]: t["status"] for t in tasks_of(namespace, "notes-lost")}
    assert tasks["task-001"]["attempts"] == 2
    assert tasks["task-001"]["executor"]["pid"] != pid
    assert {tasks[t]["attempts"] for t in tasks if t != "task-001"} == {1}

    counts = Counter((e["type"], e["task"]) for e in journal)
    for task_id in tasks:
        assert counts[("TASK_COMPLETED", task_id)] == 1, task_id
        assert counts[("TASK_FAILED", task_id)] == 0, task_id
    started = [
        e["payload"]["attempt"]
        for e in journal
        if e["type"] == "TASK_STARTED" and e["task"] == "task-001"
    ]
    assert started == [1, 2]
    assert (
        sum(e["type"] in {"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"} for e in journal) == 1
        and journal[-1]["type"] == "RUN_COMPLETED"
    )
    # One commit per task on main (the lost attempt committed nothing), one per branch.
    subjects = git(repo, "log", "--no-merges", "--format=%s", "main").splitlines()
    for task_id in tasks:
        assert sum(s.startswith(f"{task_id} ") for s in subjects) == 1, subjects
    for task in tasks.values():
        base, branch = task["baseCommit"], task["branchName"]
        assert git(repo, "rev-list", "--count", f"{base}..{branch}").strip() == "1", branch
    assert git(repo, "rev-parse", "main").strip() == run["status"]["mergedCommit"]


def test_observed_generation_follows_spec_changes_and_cancel(
    stack: Stack, namespace: str, operator: ServiceProcess
) -> None:
    """kstatus: status.observedGeneration (and each condition's) follows metadata.generation
    while the run executes, through spec.cancel, and after the run has finished."""
    _approved_project(stack, namespace, operator)
    create(
        namespace,
        "runs",
        "Run",
        "notes-gen",
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": "command", "command": "sleep 60"},
        },
    )
    wait_for(
        lambda: any(
            t.get("status", {}).get("executor", {}).get("pid")
            for t in tasks_of(namespace, "notes-gen")
        ),
        30,
        "a worker to start",
        operator,
        interval=0.1,
    )

    def observes(generation: int) -> dict:
        run = wait_observed(namespace, "runs", "notes-gen", generation, operator)
        assert run["metadata"]["generation"] == generation
        assert run["status"]["observedGeneration"] == generation
        assert {c["observedGeneration"] for c in run["status"]["conditions"]} == {generation}
        return run

    assert observes(1)["status"]["phase"] == "executing"
    # A spec change mid-run (parallelism is read live) is acknowledged without a phase change.
    generation = patch_spec(namespace, "runs", "notes-gen", {"parallelism": 2})
    assert observes(generation)["status"]["phase"] == "executing"

    generation = patch_spec(namespace, "runs", "notes-gen", {"cancel": True})
    run = wait_run_done(namespace, "notes-gen", operator, timeout=30)
    assert run["status"]["phase"] == "cancelled"
    run = observes(generation)
    ready = next(c for c in run["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "Cancelled"

    # After the end the daemon is gone; a later spec change is still observed.
    generation = patch_spec(namespace, "runs", "notes-gen", {"parallelism": 1})
    run = observes(generation)
    assert run["status"]["phase"] == "cancelled"
    assert run["status"]["completedAt"]


def test_stopping_the_operator_leaves_workers_that_cleanup_then_kills(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path
) -> None:
    """Workers outlive their operator on purpose; the fixtures' cleanup (kill_workers on
    the test's data_dir) must leave none behind, children included."""
    _approved_project(stack, namespace, operator)
    create(
        namespace,
        "runs",
        "Run",
        "notes-orphan",
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": "command", "command": "sleep 60"},
        },
    )
    pid = wait_for(
        lambda: next(
            (
                t["status"]["executor"]["pid"]
                for t in tasks_of(namespace, "notes-orphan")
                if t.get("status", {}).get("executor", {}).get("pid")
            ),
            None,
        ),
        30,
        "a worker to start",
        operator,
        interval=0.1,
    )
    wait_for(
        lambda: any(cmdline(p).startswith(b"sleep\0") for p in group_members(pid)),
        10,
        "the command's sleep to run",
        operator,
        interval=0.05,
    )
    operator.stop()  # SIGTERM: a clean operator exit leaves its workers running
    assert _group_alive(pid) and pid in processes_naming(data_dir)

    assert kill_workers(data_dir) == [pid]
    assert not _group_alive(pid), "a worker's child (the sleep) survived"
    assert processes_naming(data_dir) == []
