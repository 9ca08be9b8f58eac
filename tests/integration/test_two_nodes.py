"""Two nodes on the test stack's machine (scripts/node.sh: the second one has its own
containerd, kubelet, bridge and pod CIDR; the repo volume is a hostPath both see, as a
ReadWriteMany volume would be on real nodes): a run's tasks spread over both; the second
node crashing mid-task (kubelet, containerd and its Pods killed at once) makes its tasks
run again as their next attempt on the first, the run succeeding with a journal that
neither doubles nor drops a task; a drain of the second node waits for a
PodDisruptionBudget that forbids it, then moves its tasks the same way.

They need a stack with two nodes (PRAZIUM_NODES=2), which `make helm-e2e` starts for
them after the chart's suite (6 minutes of tests, 8 with the stack's start and
teardown, on a quiet machine): `make test` skips them, saying so, to stay within its
time.
"""

from __future__ import annotations

import shlex
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from kubernetes import client

from tests.support.build import (
    create,
    events,
    kubectl_apply,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.node import (
    NODE_NAME,
    TWO_NODES_SKIP,
    PodRecorder,
    SecondNode,
    job_namespace,
    operator_env,
    pod,
    second_node,
    stack_has_two_nodes,
)
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not stack_has_two_nodes(), reason=TWO_NODES_SKIP),
]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUN_TIMEOUT = 420

_TEMPLATE_FROM_WORKTREE = (
    "import json, os, pathlib\n"
    "from prazium_operator.agents import get_coder\n"
    "docs = {p.name: p.read_text() for p in pathlib.Path('docs/spec').glob('*.md')}\n"
    "get_coder('template').code(json.loads(os.environ['PRAZIUM_TASK_JSON']), docs,"
    " pathlib.Path('.'))\n"
)


# The plan's first task, which the others wait for: it does not sleep.
FIRST_TASK = "task-001"


def _coder(first_attempt_sleep: int) -> str:
    """The template coder through the `command` coder; every task but the first sleeps
    first on its first attempt, so tasks overlap and are reliably mid-task when their
    node goes."""
    return (
        f'if [ "$PRAZIUM_TASK_ATTEMPT" = 1 ] && [ "$PRAZIUM_TASK_ID" != {FIRST_TASK} ]; then '
        f"sleep {first_attempt_sleep}; fi; exec python -c {shlex.quote(_TEMPLATE_FROM_WORKTREE)}"
    )


@pytest.fixture
def jobs_ns(stack: Stack, data_dir: Path) -> Iterator[str]:
    with job_namespace(data_dir) as name:
        yield name


@pytest.fixture
def second(stack: Stack) -> Iterator[SecondNode]:
    with second_node() as node:
        yield node


def _heartbeat(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
        ).fetchone()
    return row is not None


@pytest.fixture
def pod_operator(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    # Default node-loss settings (tolerations 30 s, a node lost after 30 s of silence).
    proc = start_operator(stack, data_dir, [namespace], tmp_path / "logs", **operator_env(jobs_ns))
    wait_for(lambda: _heartbeat(stack.database_url, proc.pid), 30, "operator heartbeat", proc)
    yield proc
    proc.stop()


def _start_run(
    stack: Stack, namespace: str, operator: ServiceProcess, run: str, sleep: int
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
            "agent": {"coder": "command", "command": _coder(sleep)},
        },
    )


def _running_on(
    namespace: str, run: str, jobs_ns: str, node_name: str, dsn: str
) -> list[dict[str, Any]]:
    """Tasks whose attempt 1 runs, mid-task (TASK_STARTED journalled, now in its sleep),
    in a Pod on node_name. Never the first task: it ends within seconds, and a finished
    Pod is neither lost with its node nor held by a disruption budget."""
    started = {
        e["task"]
        for e in events(dsn, namespace, run)
        if e["type"] == "TASK_STARTED" and e["payload"].get("attempt") == 1
    }
    found = []
    for task in tasks_of(namespace, run):
        status = task.get("status") or {}
        tid = task["spec"]["definition"]["id"]
        name = (status.get("executor") or {}).get("pod")
        if status.get("phase") != "running" or status.get("attempts") != 1 or not name:
            continue
        if tid == FIRST_TASK or tid not in started:
            continue
        obj = pod(jobs_ns, name)
        if obj and obj["spec"].get("nodeName") == node_name:
            found.append(task)
    return found


def _assert_journal_whole(journal: list[dict[str, Any]], task_ids: set[str]) -> dict[str, list]:
    """Each task completed exactly once; its TASK_STARTED attempts rise without repeats.
    Returns task id -> its started attempts."""
    completed = Counter(e["task"] for e in journal if e["type"] == "TASK_COMPLETED")
    assert completed == Counter(dict.fromkeys(task_ids, 1)), completed
    started: dict[str, list] = {}
    for e in journal:
        if e["type"] == "TASK_STARTED":
            started.setdefault(e["task"], []).append(e["payload"]["attempt"])
    for tid, attempts in started.items():
        assert attempts == sorted(set(attempts)), (tid, attempts)
    assert set(started) == task_ids
    return started


def test_a_runs_tasks_spread_over_both_nodes(
    stack: Stack, namespace: str, jobs_ns: str, second: SecondNode, pod_operator: ServiceProcess
) -> None:
    with PodRecorder(jobs_ns) as recorder:
        _start_run(stack, namespace, pod_operator, "todo-spread", sleep=6)
        run = wait_run_done(namespace, "todo-spread", pod_operator, timeout=RUN_TIMEOUT)
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    workers = [
        p
        for p in recorder.seen.values()
        if p["metadata"]["labels"].get("prazium.io/role") == "worker"
    ]
    nodes = Counter(p["spec"].get("nodeName") for p in workers)
    assert set(nodes) == {NODE_NAME, second.name}, nodes
    tasks = tasks_of(namespace, "todo-spread")
    assert {t["status"]["attempts"] for t in tasks} == {1}


def test_a_crashed_node_s_tasks_run_again_on_the_other_node(
    stack: Stack, namespace: str, jobs_ns: str, second: SecondNode, pod_operator: ServiceProcess
) -> None:
    _start_run(stack, namespace, pod_operator, "todo-crash", sleep=45)
    victims = wait_for(
        lambda: _running_on(namespace, "todo-crash", jobs_ns, second.name, stack.database_url),
        240,
        f"a task mid-way on {second.name}",
        pod_operator,
        interval=0.3,
    )
    victim_ids = {t["spec"]["definition"]["id"] for t in victims}
    second.crash()
    killed = time.monotonic()

    def rerun_started() -> bool:
        again = {
            e["task"]
            for e in events(stack.database_url, namespace, "todo-crash")
            if e["type"] == "TASK_STARTED" and e["payload"].get("attempt", 1) > 1
        }
        return victim_ids <= again

    wait_for(rerun_started, 180, "the lost tasks' next attempt to start", pod_operator)
    rerun_seconds = time.monotonic() - killed
    print(
        f"\nnode lost -> its tasks ({', '.join(sorted(victim_ids))}) running again "
        f"(next attempt's TASK_STARTED): {rerun_seconds:.1f} s"
    )

    run = wait_run_done(namespace, "todo-crash", pod_operator, timeout=RUN_TIMEOUT)
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    tasks = {t["spec"]["definition"]["id"]: t["status"] for t in tasks_of(namespace, "todo-crash")}
    for tid in victim_ids:
        assert tasks[tid]["attempts"] >= 2, (tid, tasks[tid])
        rerun_pod = pod(jobs_ns, tasks[tid]["executor"]["pod"])
        # Its Job is gone once the result is read; when its Pod is still there it is
        # on the surviving node.
        assert rerun_pod is None or rerun_pod["spec"]["nodeName"] == NODE_NAME
    journal = wait_final_event(stack.database_url, namespace, "todo-crash", pod_operator)
    started = _assert_journal_whole(journal, set(tasks))
    for tid in victim_ids:
        assert started[tid][0] == 1 and len(started[tid]) >= 2, (tid, started[tid])
    # The operator judged the node itself, from its silent Lease (Kubernetes marks it
    # not ready only after about 50 s), and said so on the Task.
    retrying = [
        e.message
        for e in client.CoreV1Api().list_namespaced_event(namespace).items
        if e.reason == "Retrying" and e.involved_object.kind == "Task"
    ]
    assert any(
        f"on a lost node: node {second.name} has not renewed its lease" in m for m in retrying
    ), retrying
    # A loose bound on a shared machine (the figure printed above is the measurement;
    # the goal is 60 s): Kubernetes' own eviction would take 80 s and more.
    assert rerun_seconds <= 90, rerun_seconds


def _kubectl(stack: Stack, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [stack.kubectl, "--kubeconfig", stack.kubeconfig, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def test_a_drain_respects_the_disruption_budget_and_moves_the_tasks(
    stack: Stack, namespace: str, jobs_ns: str, second: SecondNode, pod_operator: ServiceProcess
) -> None:
    # Job Pods have no scale subresource: a budget for them takes an absolute
    # minAvailable. 100: no worker Pod may be evicted while it stands.
    policy = client.PolicyV1Api()
    policy.create_namespaced_pod_disruption_budget(
        jobs_ns,
        {
            "metadata": {"name": "workers"},
            "spec": {
                "minAvailable": 100,
                "selector": {"matchLabels": {"prazium.io/role": "worker"}},
            },
        },
    )
    _start_run(stack, namespace, pod_operator, "todo-drain", sleep=45)
    victims = wait_for(
        lambda: _running_on(namespace, "todo-drain", jobs_ns, second.name, stack.database_url),
        240,
        f"a task mid-way on {second.name}",
        pod_operator,
        interval=0.3,
    )
    victim_ids = {t["spec"]["definition"]["id"] for t in victims}
    drain = ["drain", second.name, "--ignore-daemonsets", "--delete-emptydir-data"]
    refused = _kubectl(stack, *drain, "--timeout=12s")
    assert refused.returncode != 0, refused.stdout
    assert "disruption budget" in refused.stderr, refused.stderr
    # Nothing was evicted: the tasks still run their first attempt there.
    for task in tasks_of(namespace, "todo-drain"):
        if task["spec"]["definition"]["id"] in victim_ids:
            assert task["status"]["attempts"] == 1, task["status"]

    policy.patch_namespaced_pod_disruption_budget("workers", jobs_ns, {"spec": {"minAvailable": 0}})
    drained = _kubectl(stack, *drain, "--timeout=120s")
    assert drained.returncode == 0, drained.stderr
    assert "evicting pod" in drained.stdout + drained.stderr

    run = wait_run_done(namespace, "todo-drain", pod_operator, timeout=RUN_TIMEOUT)
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    tasks = {t["spec"]["definition"]["id"]: t["status"] for t in tasks_of(namespace, "todo-drain")}
    for tid in victim_ids:
        assert tasks[tid]["attempts"] >= 2, (tid, tasks[tid])
    journal = wait_final_event(stack.database_url, namespace, "todo-drain", pod_operator)
    started = _assert_journal_whole(journal, set(tasks))
    for tid in victim_ids:
        assert started[tid][0] == 1 and len(started[tid]) >= 2, (tid, started[tid])
    # The drained node takes no new Pods: every worker Pod now is on the other one.
    for item in client.CoreV1Api().list_namespaced_pod(jobs_ns).items:
        assert item.spec.node_name in (None, NODE_NAME), item.metadata.name
