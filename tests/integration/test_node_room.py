"""Room on the nodes (executor/noderoom.py), on the test stack's node: with a worker CPU
request so large that only two sandbox Pods fit, and four worker slots, the tasks
beyond the room wait in the operator's queue with a message, never as Pods the
scheduler finds no node for, and the runs still succeed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kubernetes import client, watch
from kubernetes.utils import parse_quantity

from prazium_operator.executor import noderoom
from tests.support.build import create, kubectl_apply, wait_phase, wait_run_done
from tests.support.node import NODE_NAME, job_namespace, operator_env
from tests.support.services import Stack, start_operator
from tests.support.taskwatch import TaskMessages, Watching

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROOM = "waiting in the operator's queue for room on the nodes"


@pytest.fixture
def jobs_ns(stack: Stack, data_dir: Path) -> Iterator[str]:
    with job_namespace(data_dir) as name:
        yield name


def _cpu_for_two() -> str:
    """A CPU request two sandbox Pods fit in on the node, three not: half of what the
    Pods already bound there leave of its allocatable, less a little."""
    core = client.CoreV1Api()
    node = core.read_node(NODE_NAME)
    free = parse_quantity(node.status.allocatable["cpu"])
    for pod in core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={NODE_NAME}").items:
        if pod.status.phase not in noderoom.TERMINAL_PHASES:
            free -= noderoom.pod_requests(pod).cpu
    millis = int(free * 1000) // 2 - 10
    assert millis * 3 > free * 1000 and millis > 100, free
    return f"{millis}m"


@dataclass
class _SandboxPods(Watching):
    """Every sandbox Pod of the job namespace, from a watch over the whole test: the
    most alive at once (Pending or Running, not being deleted), and those the
    scheduler ever reported it had no node for."""

    namespace: str
    most: int = 0
    unschedulable: set[str] = field(default_factory=set)
    _alive: set[str] = field(default_factory=set)

    def _see(self, kind: str, pod: client.V1Pod) -> None:
        name = pod.metadata.name
        if (pod.metadata.labels or {}).get("prazium.io/role") not in noderoom.SANDBOX_ROLES:
            return
        for cond in (pod.status.conditions if pod.status else None) or []:
            scheduled = (cond.type, cond.status, cond.reason)
            if scheduled == ("PodScheduled", "False", "Unschedulable"):
                self.unschedulable.add(f"{name}: {cond.message}")
        alive = (
            kind != "DELETED"
            and pod.status.phase in ("Pending", "Running")
            and not pod.metadata.deletion_timestamp
        )
        if alive:
            self._alive.add(name)
        else:
            self._alive.discard(name)
        self.most = max(self.most, len(self._alive))

    def _loop(self) -> None:
        core = client.CoreV1Api()
        version = ""
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(
                    core.list_namespaced_pod,
                    self.namespace,
                    resource_version=version,
                    timeout_seconds=2,
                ):
                    pod = event["object"]
                    version = pod.metadata.resource_version
                    self._see(event["type"], pod)
                    if self._stop.is_set():
                        stream.stop()
            except Exception:  # a watch that broke (its version too old) starts over
                version = ""
                if self._stop.wait(0.1):
                    return


def test_tasks_beyond_the_nodes_room_wait_in_the_queue_not_as_unschedulable_pods(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> None:
    cpu = _cpu_for_two()
    with _SandboxPods(jobs_ns) as pods, TaskMessages(namespace) as messages:
        operator = start_operator(
            stack,
            data_dir,
            [namespace],
            tmp_path / "logs",
            **operator_env(
                jobs_ns,
                PRAZIUM_MAX_WORKERS="4",
                PRAZIUM_PRESTART="true",
                PRAZIUM_WORKER_CPU_REQUEST=cpu,
                PRAZIUM_WORKER_CPU_LIMIT=cpu,
            ),
        )
        try:
            kubectl_apply(stack, namespace, EXAMPLES / "project-answered.yaml")
            wait_phase(namespace, "projects", "todo-answered", {"approved"}, operator)
            # Two runs of the plan at once: after each one's first task, each has two
            # or more ready, four or more in all for the four worker slots.
            for run in ("todo-room-a", "todo-room-b"):
                create(
                    namespace,
                    "runs",
                    "Run",
                    run,
                    {"projectRef": {"name": "todo-answered"}, "parallelism": 3},
                )
            done = [
                wait_run_done(namespace, run, operator, timeout=240)
                for run in ("todo-room-a", "todo-room-b")
            ]
        finally:
            operator.stop()
    for run in done:
        assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    assert not pods.unschedulable, sorted(pods.unschedulable)
    assert 1 <= pods.most <= 2, pods.most
    waited = [m for m in messages.seen if m.startswith(ROOM)]
    assert waited, sorted(messages.seen)
    assert f"a sandbox Pod asks {cpu} CPU" in waited[0], waited
    # Below the slots, above the room: no Pod created ahead fitted (the free slots
    # needed every place), so every place went to a ready task.
    assert not any(
        m.startswith("waiting in the operator's queue for a worker slot") for m in messages.seen
    )
