"""Tasks beyond the operator's worker slots wait in its queue, their Task saying so
(the same for both executors; with the kubernetes executor this keeps them from
becoming Pending Pods on the node: tests/integration/test_node_prestart.py)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.support.build import create, kubectl_apply, tasks_of, wait_phase, wait_run_done
from tests.support.services import Stack, start_operator, wait_for
from tests.support.taskwatch import TaskMessages

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUEUED = "waiting in the operator's queue for a worker slot (all 1 are in use)"


def test_a_task_waiting_for_a_worker_slot_says_so_then_runs(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    operator = start_operator(
        stack, data_dir, [namespace], tmp_path / "logs", PRAZIUM_MAX_WORKERS="1"
    )
    try:
        wait_for(lambda: _heartbeat(stack.database_url, operator.pid), 30, "heartbeat", operator)
        kubectl_apply(stack, namespace, EXAMPLES / "project-answered.yaml")
        wait_phase(namespace, "projects", "todo-answered", {"approved"}, operator)
        with TaskMessages(namespace) as messages:
            # parallelism 3, one slot: the plan's parallel branches wait for it in turn.
            create(
                namespace,
                "runs",
                "Run",
                "todo-one-slot",
                {"projectRef": {"name": "todo-answered"}, "parallelism": 3},
            )
            run = wait_run_done(namespace, "todo-one-slot", operator, timeout=300)
        assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    finally:
        operator.stop()
    assert QUEUED in messages.seen, sorted(messages.seen)
    # Once started, a task's message is its attempt's again.
    assert {t["status"]["phase"] for t in tasks_of(namespace, "todo-one-slot")} == {"succeeded"}
    assert not any(t["status"]["message"] == QUEUED for t in tasks_of(namespace, "todo-one-slot"))


def _heartbeat(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
        ).fetchone()
    return row is not None
