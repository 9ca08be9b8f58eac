"""Jobs created ahead of their work, on the test stack's node: a task's Job is created
while its dependencies run, its Pod waits for the go signal and starts the task once
they are merged; cancel and a failed dependency remove the waiting Pods; the operator's
worker slots keep the tasks beyond them in its queue, with a message, not as Pods.

task-001 of the answered todo app (the template planner's 6-task plan; every other
task depends on it, directly or not) sleeps in its coder, so the Pods of its dependents
reliably wait while it runs.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kubernetes import client

from prazium_kit import paths
from prazium_operator.worker.waiting import GO_LINE, WAITING_LINE
from prazium_operator.worker_contract import log_path
from tests.support.build import (
    create,
    kubectl_apply,
    patch_spec,
    tasks_of,
    wait_phase,
    wait_run_done,
)
from tests.support.node import PodRecorder, job_namespace, operator_env
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for
from tests.support.taskwatch import TaskMessages, Watching

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LABEL_START = "prazium.io/start"

_TEMPLATE_FROM_WORKTREE = (
    "import json, os, pathlib\n"
    "from prazium_operator.agents import get_coder\n"
    "docs = {p.name: p.read_text() for p in pathlib.Path('docs/spec').glob('*.md')}\n"
    "get_coder('template').code(json.loads(os.environ['PRAZIUM_TASK_JSON']), docs,"
    " pathlib.Path('.'))\n"
)


def _coder(first_task: str) -> str:
    """The template coder through the `command` coder; task-001 does first_task first."""
    return (
        f'if [ "$PRAZIUM_TASK_ID" = task-001 ]; then {first_task}; fi; '
        f"exec python -c {shlex.quote(_TEMPLATE_FROM_WORKTREE)}"
    )


@pytest.fixture
def jobs_ns(stack: Stack, data_dir: Path) -> Iterator[str]:
    with job_namespace(data_dir) as name:
        yield name


def _operator(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, logs: Path, **extra: str
) -> ServiceProcess:
    proc = start_operator(stack, data_dir, [namespace], logs, **operator_env(jobs_ns, **extra))
    wait_for(lambda: _heartbeat(stack.database_url, proc.pid), 30, "operator heartbeat", proc)
    return proc


def _heartbeat(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
        ).fetchone()
    return row is not None


def _start_run(
    stack: Stack,
    namespace: str,
    operator: ServiceProcess,
    run: str,
    first_task: str,
    coder: str | None = None,
) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-answered.yaml")
    wait_phase(namespace, "projects", "todo-answered", {"approved"}, operator)
    create(
        namespace,
        "runs",
        "Run",
        run,
        {
            "projectRef": {"name": "todo-answered"},
            "parallelism": 3,
            "agent": {"coder": "command", "command": coder or _coder(first_task)},
        },
    )


def _by_id(namespace: str, run: str) -> dict[str, dict[str, Any]]:
    return {t["spec"]["definition"]["id"]: t for t in tasks_of(namespace, run)}


def _waiting_pods(jobs_ns: str) -> dict[str, dict[str, Any]]:
    """Task name -> the Running Pod of its Job created ahead."""
    jobs = client.BatchV1Api().list_namespaced_job(jobs_ns, label_selector=f"{LABEL_START}")
    ahead = {
        job.metadata.name: job.metadata.annotations["prazium.io/task-name"] for job in jobs.items
    }
    found = {}
    for item in client.CoreV1Api().list_namespaced_pod(jobs_ns).items:
        job = (item.metadata.labels or {}).get("batch.kubernetes.io/job-name")
        if job in ahead and item.status.phase == "Running":
            found[ahead[job]] = client.ApiClient().sanitize_for_serialization(item)
    return found


def _dependents_waiting(namespace: str, run: str, jobs_ns: str) -> dict[str, dict[str, Any]]:
    """Once task-001 runs: the Pods of tasks that wait for it, Running, their Tasks not."""

    def waiting() -> dict[str, dict[str, Any]] | None:
        tasks = _by_id(namespace, run)
        if (tasks.get("task-001", {}).get("status") or {}).get("phase") != "running":
            return None
        pods = _waiting_pods(jobs_ns)
        names = {t["metadata"]["name"]: t for t in tasks.values()}
        found = {n: p for n, p in pods.items() if n in names}
        if not found:
            return None
        for name in found:
            assert names[name]["status"].get("phase") in ("pending", "queued"), names[name]
        return found

    return dict(wait_for(waiting, 120, "a dependent's Pod waiting for its go signal", interval=0.3))


def _all_jobs_gone(jobs_ns: str, operator: ServiceProcess, why: str) -> None:
    wait_for(
        lambda: not client.BatchV1Api().list_namespaced_job(jobs_ns).items,
        30,
        why,
        operator,
    )


def test_a_job_created_ahead_waits_and_starts_its_task_on_the_go_signal(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> None:
    operator = _operator(stack, namespace, jobs_ns, data_dir, tmp_path / "logs")
    try:
        _start_run(stack, namespace, operator, "todo-ahead", "sleep 15")
        waiting = _dependents_waiting(namespace, "todo-ahead", jobs_ns)
        run = wait_run_done(namespace, "todo-ahead", operator, timeout=300)
        assert run["status"]["phase"] == "succeeded", run["status"].get("message")
        # Every Job and Pod is gone once the run ended.
        _all_jobs_gone(jobs_ns, operator, "the run's Jobs to be deleted")
    finally:
        operator.stop()
    tasks = _by_id(namespace, "todo-ahead")
    by_name = {t["metadata"]["name"]: t for t in tasks.values()}
    for name, pod_obj in waiting.items():
        task = by_name[name]
        # The task ran in the Pod that waited for it (attempt 1, no second Job).
        assert task["status"]["phase"] == "succeeded"
        assert task["status"]["attempts"] == 1
        assert task["status"]["executor"]["pod"] == pod_obj["metadata"]["name"]
        kept = log_path(
            paths.result_path(
                data_dir, namespace, "todo-ahead", task["spec"]["definition"]["id"], 1
            )
        )
        lines = [json.loads(x) for x in kept.read_text().splitlines() if x.startswith("{")]
        messages = [line.get("message") for line in lines]
        assert WAITING_LINE in messages and GO_LINE in messages, messages
        go = next(line for line in lines if line.get("message") == GO_LINE)
        # It waited for task-001 (15 s of sleep) before its go signal, then ran.
        assert go["waitedSeconds"] > 3, go
        started = messages.index(GO_LINE)
        assert any("attempt 1 succeeded" in str(m) for m in messages[started:]), messages


def test_a_pod_waiting_past_its_jobs_deadline_still_runs_its_task(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> None:
    """A Job's deadline counts from its creation. A task whose Job was created ahead can
    wait for its go signal longer than that (many runs sharing the worker slots): the
    operator extends the deadline of a waiting Job before it passes. Here task-001 and
    task-002 take 14 s each, under the 23 s task deadline; task-004's Job is created
    ahead while task-001 runs (it depends on task-002, a level below) and waits for both."""
    deadline = 23
    coder = (
        'case "$PRAZIUM_TASK_ID" in task-001|task-002) sleep 14;; esac; '
        f"exec python -c {shlex.quote(_TEMPLATE_FROM_WORKTREE)}"
    )
    operator = _operator(
        stack,
        namespace,
        jobs_ns,
        data_dir,
        tmp_path / "logs",
        PRAZIUM_TASK_DEADLINE_SECONDS=str(deadline),
    )
    try:
        _start_run(stack, namespace, operator, "todo-long-wait", "", coder=coder)
        run = wait_run_done(namespace, "todo-long-wait", operator, timeout=300)
    finally:
        operator.stop()
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    waited: dict[str, float] = {}
    for task_id, task in _by_id(namespace, "todo-long-wait").items():
        assert task["status"]["phase"] == "succeeded", task["status"]
        assert task["status"]["attempts"] == 1, task["status"]
        kept = log_path(paths.result_path(data_dir, namespace, "todo-long-wait", task_id, 1))
        lines = [json.loads(x) for x in kept.read_text().splitlines() if x.startswith("{")]
        go = next((line for line in lines if line.get("message") == GO_LINE), None)
        if go is not None:
            waited[task_id] = go["waitedSeconds"]
    # A Pod waited past the deadline its Job was created with, and its task ran in it.
    assert max(waited.values(), default=0) > deadline, waited


def test_cancel_removes_the_pods_waiting_for_their_go_signal(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> None:
    operator = _operator(stack, namespace, jobs_ns, data_dir, tmp_path / "logs")
    try:
        _start_run(stack, namespace, operator, "todo-cancel", "sleep 120")
        waiting = _dependents_waiting(namespace, "todo-cancel", jobs_ns)
        patch_spec(namespace, "runs", "todo-cancel", {"cancel": True})
        run = wait_run_done(namespace, "todo-cancel", operator, timeout=60)
        assert run["status"]["phase"] == "cancelled"
        _all_jobs_gone(jobs_ns, operator, "the cancelled run's Jobs to be deleted")
        wait_for(
            lambda: not client.CoreV1Api().list_namespaced_pod(jobs_ns).items,
            60,
            "the cancelled run's Pods to be deleted",
            operator,
        )
    finally:
        operator.stop()
    tasks = {t["metadata"]["name"]: t for t in tasks_of(namespace, "todo-cancel")}
    for name in waiting:
        assert tasks[name]["status"]["phase"] == "cancelled"
        assert tasks[name]["status"].get("attempts") in (None, 0)  # never started


def test_a_pod_created_ahead_is_removed_once_its_task_will_not_start(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> None:
    operator = _operator(stack, namespace, jobs_ns, data_dir, tmp_path / "logs")
    try:
        # task-001 fails after a while: every task after it will never start.
        _start_run(stack, namespace, operator, "todo-fails", "sleep 10; exit 3")
        with PodRecorder(jobs_ns) as recorder:
            waiting = _dependents_waiting(namespace, "todo-fails", jobs_ns)
            run = wait_run_done(namespace, "todo-fails", operator, timeout=240)
        assert run["status"]["phase"] == "failed"
        assert "task-001" in run["status"]["message"]
        _all_jobs_gone(jobs_ns, operator, "the Jobs created ahead to be deleted")
    finally:
        operator.stop()
    tasks = {t["metadata"]["name"]: t for t in tasks_of(namespace, "todo-fails")}
    for name, pod_obj in waiting.items():
        assert tasks[name]["status"]["phase"] == "cancelled"
        # Its Pod waited and never ran the task: no result, no go signal.
        seen = recorder.seen[pod_obj["metadata"]["name"]]
        assert seen["metadata"]["labels"]["prazium.io/task"] == name
        definition_id = tasks[name]["spec"]["definition"]["id"]
        result = paths.result_path(data_dir, namespace, "todo-fails", definition_id, 1)
        assert not result.exists() and not result.with_suffix(".go").exists()


@dataclass
class _PodCount(Watching):
    """The most worker Pods alive at once for one run (Pending or Running, not deleted)
    whose worker has not finished. A worker that wrote its result has given its slot
    back; its Pod is reported Running until the kubelet notices the exit (a second or
    two under gVisor), so it is not counted. Verification Pods hold no worker slot."""

    jobs_ns: str
    namespace: str
    run: str
    data_dir: Path
    most: int = 0

    def _finished(self, task_cr: str, task_ids: dict[str, str]) -> bool:
        task_id = task_ids.get(task_cr)
        results = paths.run_results(self.data_dir, self.namespace, self.run)
        return task_id is not None and any(results.glob(f"{task_id}-[0-9]*.json"))

    def _loop(self) -> None:
        core = client.CoreV1Api()
        while not self._stop.wait(0.1):
            task_ids = {
                t["metadata"]["name"]: t["spec"]["definition"]["id"]
                for t in tasks_of(self.namespace, self.run)
            }
            alive = [
                p
                for p in core.list_namespaced_pod(
                    self.jobs_ns, label_selector="prazium.io/role=worker"
                ).items
                if p.status.phase in ("Pending", "Running")
                and not p.metadata.deletion_timestamp
                and not self._finished(p.metadata.labels.get("prazium.io/task", ""), task_ids)
            ]
            self.most = max(self.most, len(alive))


def test_tasks_beyond_the_worker_slots_wait_in_the_queue_not_as_pods(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> None:
    operator = _operator(
        stack,
        namespace,
        jobs_ns,
        data_dir,
        tmp_path / "logs",
        PRAZIUM_MAX_WORKERS="1",
        PRAZIUM_MAX_PRESTARTED="1",
    )
    try:
        with (
            _PodCount(jobs_ns, namespace, "todo-slots", data_dir) as pods,
            TaskMessages(namespace) as messages,
        ):
            _start_run(stack, namespace, operator, "todo-slots", "true")
            run = wait_run_done(namespace, "todo-slots", operator, timeout=400)
        assert run["status"]["phase"] == "succeeded", run["status"].get("message")
        _all_jobs_gone(jobs_ns, operator, "the run's Jobs to be deleted")
    finally:
        operator.stop()
    # One running and one waiting at most (parallelism 3 would have allowed more).
    assert 1 <= pods.most <= 2, pods.most
    assert "waiting in the operator's queue for a worker slot (all 1 are in use)" in messages.seen
