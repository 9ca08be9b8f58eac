"""A repair round and a retry's reuse with every task as a Job on the test stack's node
(the kubernetes executor; like test_node_jobs.py, this needs the node).

The notes example three times: repaired in one round by the `command` coder of
tests/support/repair_coder.py (its repair task a Job of its own), then a run whose
smoke-tests task (the plan's last, after every other) fails, then that run's retry
with the template coder, which takes over every other task without a Job and runs
the smoke tests in a Pod. Task ids come from the run's plan (tests/support/plans.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.build import (
    create,
    kubectl_apply,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.node import job_namespace, operator_env
from tests.support.plans import SMOKE_TESTS, PlanGraph
from tests.support.repair_coder import coder, failing_on
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECT = "notes-gitops"


@pytest.fixture
def pod_operator(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    with job_namespace(data_dir) as jobs_ns:
        env = operator_env(jobs_ns)
        proc = start_operator(stack, data_dir, [namespace], tmp_path / "logs", **env)
        try:
            wait_for(lambda: _heartbeat(stack.database_url, proc.pid), 30, "heartbeat", proc)
            yield proc
        finally:
            proc.stop()


def _heartbeat(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
        ).fetchone()
    return found is not None


def _build(namespace: str, name: str, operator: ServiceProcess, **spec: object) -> dict:
    create(namespace, "runs", "Run", name, {"projectRef": {"name": PROJECT}, **spec})
    return wait_run_done(namespace, name, operator, timeout=420)


def test_a_repair_round_and_a_retrys_reuse_with_worker_pods(
    stack: Stack, namespace: str, pod_operator: ServiceProcess
) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", PROJECT, {"approved"}, pod_operator)

    repaired = _build(
        namespace,
        "notes-repaired",
        pod_operator,
        agent={"coder": "command", "command": coder("break-and-fix")},
    )
    assert repaired["status"]["phase"] == "succeeded", repaired["status"].get("message")
    assert repaired["status"]["message"] == "built and verified after 1 repair round"
    tasks = {t["spec"]["definition"]["id"]: t for t in tasks_of(namespace, "notes-repaired")}
    plan = PlanGraph.of_run(tasks.values())
    [repair_id] = plan.next_ids()
    assert sorted(tasks) == sorted([*plan.order, repair_id])
    repair = tasks[repair_id]
    assert repair["spec"]["definition"]["role"] == "repair"
    assert repair["status"]["executor"]["kind"] == "kubernetes"
    assert repair["status"]["executor"]["name"]  # its own Job
    journal = wait_final_event(stack.database_url, namespace, "notes-repaired", pod_operator)
    verdicts = [e["payload"]["exitCode"] for e in journal if e["type"] == "VERIFICATION_COMPLETED"]
    assert [code != 0 for code in verdicts] == [True, False]

    smoke = plan.by_slug(SMOKE_TESTS)
    assert plan.sinks() == [smoke]  # so its failure cancels nothing: the rest is reused
    failing = {"coder": "command", "command": failing_on(SMOKE_TESTS)}
    failed = _build(namespace, "notes-failed", pod_operator, agent=failing)
    assert failed["status"]["phase"] == "failed"
    assert smoke in failed["status"]["message"]

    retried = _build(
        namespace, "notes-retried", pod_operator, trigger="retry", retryOf="notes-failed"
    )
    assert retried["status"]["phase"] == "succeeded", retried["status"].get("message")
    now = {t["spec"]["definition"]["id"]: t["status"] for t in tasks_of(namespace, "notes-retried")}
    assert sorted(now) == sorted(plan.order)
    for task_id in plan.order:
        if task_id == smoke:
            continue
        assert now[task_id]["reusedFrom"] == f"notes-failed/{task_id}"
        assert not (now[task_id].get("executor") or {}).get("name")  # no Job for it
    assert "reusedFrom" not in now[smoke]
    assert now[smoke]["executor"]["kind"] == "kubernetes"
    journal = wait_final_event(stack.database_url, namespace, "notes-retried", pod_operator)
    assert [e["task"] for e in journal if e["type"] == "TASK_STARTED"] == [smoke]
