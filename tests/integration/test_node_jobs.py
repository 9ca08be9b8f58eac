"""Every task as a Job whose Pod runs on the test stack's node (containerd, kubelet,
kube-proxy started by scripts/test.sh), in the Prazium image built without a registry.

The worker Pods share the repo volume (a hostPath PersistentVolume on the test's data
dir) with the operator on the host, and reach PostgreSQL on the host through the
node's bridge address. Covered: a kubectl-only build with every task in a restricted
Pod (checked on the Pod objects and from inside), cancel deleting the running Pod, a
Pod deleted mid-task making the task run again as attempt 2, a Job past its deadline
failing its task with that reason, tasks waiting on a cordoned node, task logs kept
on the volume per attempt after the Pods are gone, a Pod's log through the apiserver,
and a build through the REST API.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kubernetes import client

from prazium_kit import paths
from prazium_operator.worker_contract import log_path
from tests.support.build import (
    create,
    events,
    kubectl_apply,
    patch_spec,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.node import (
    PodRecorder,
    assert_restricted,
    job_namespace,
    operator_env,
    pod,
    set_unschedulable,
    started_events,
)
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for
from tests.support.sse import frames

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# The template coder through the `command` coder, as in the Pod (python of the image);
# task-001's first attempt sleeps first, so its Pod is reliably mid-task.
_TEMPLATE_FROM_WORKTREE = (
    "import json, os, pathlib\n"
    "from prazium_operator.agents import get_coder\n"
    "docs = {p.name: p.read_text() for p in pathlib.Path('docs/spec').glob('*.md')}\n"
    "get_coder('template').code(json.loads(os.environ['PRAZIUM_TASK_JSON']), docs,"
    " pathlib.Path('.'))\n"
)
SLOW_ON_FIRST_ATTEMPT = (
    '[ "$PRAZIUM_TASK_ATTEMPT" = 1 ] && [ "$PRAZIUM_TASK_ID" = task-001 ] && sleep 60; '
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
        return (
            conn.execute(
                "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
            ).fetchone()
            is not None
        )


@pytest.fixture
def pod_operator(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    proc = _operator(stack, namespace, jobs_ns, data_dir, tmp_path / "logs")
    yield proc
    proc.stop()


def _attempt_log(data_dir: Path, namespace: str, run: str, task: str, attempt: int) -> Path:
    return log_path(paths.result_path(data_dir, namespace, run, task, attempt))


def _running_pod(
    namespace: str, run: str, jobs_ns: str, operator: ServiceProcess, attempt: int = 1
) -> dict[str, Any]:
    """task-001's Pod once the Task names it and the container runs."""

    def running() -> dict[str, Any] | None:
        tasks = tasks_of(namespace, run)
        status = tasks[0].get("status", {}) if tasks else {}
        name = (status.get("executor") or {}).get("pod")
        if not name or status.get("attempts") != attempt:
            return None
        obj = pod(jobs_ns, name)
        return obj if obj and obj["status"].get("phase") == "Running" else None

    return dict(
        wait_for(running, 90, f"task-001's Pod (attempt {attempt}) to run", operator, interval=0.2)
    )


def _approved_gitops(stack: Stack, namespace: str, operator: ServiceProcess) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)


def test_kubectl_only_build_runs_every_task_in_a_restricted_worker_pod(
    stack: Stack, namespace: str, jobs_ns: str, pod_operator: ServiceProcess, data_dir: Path
) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-answered.yaml")
    wait_phase(namespace, "projects", "todo-answered", {"approved"}, pod_operator)
    with PodRecorder(jobs_ns) as recorder:
        kubectl_apply(stack, namespace, EXAMPLES / "run.yaml")
        run = wait_run_done(namespace, "todo-answered-build", pod_operator, timeout=300)
    status = run["status"]
    assert status["phase"] == "succeeded", status.get("message")
    assert status["verificationResult"]["exitCode"] == 0

    tasks = tasks_of(namespace, "todo-answered-build")
    assert len(tasks) >= 4
    for task in tasks:
        task_status = task["status"]
        assert task_status["phase"] == "succeeded"
        ref = task_status["executor"]
        # The Task names its Job and the Pod that ran it, on this node.
        assert ref["kind"] == "kubernetes" and ref["name"].endswith("-a1")
        assert ref["pod"].startswith(ref["name"])
        seen = recorder.seen.get(ref["pod"])
        assert seen is not None, f"{ref['pod']} was never seen in {jobs_ns}"
        assert seen["metadata"]["labels"]["prazium.io/task"] == task["metadata"]["name"]
        assert_restricted(seen)
        assert started_events(jobs_ns, ref["pod"]), f"no kubelet Started event for {ref['pod']}"
        # The worker's output outlives its Pod, on the volume per attempt; from inside:
        # the uid it ran as and a root filesystem it could not write.
        definition_id = task["spec"]["definition"]["id"]
        text = _attempt_log(
            data_dir, namespace, "todo-answered-build", definition_id, 1
        ).read_text()
        assert f"worker pod {ref['pod']}: uid=10001" in text, text[:500]
        assert "root filesystem: read-only" in text, text[:500]
        # The worker in the Pod wrote its own lines to the kept log (and its Pod's log).
        assert f"task {definition_id} attempt 1 succeeded" in text, text[-500:]
    # The Jobs and Pods are gone once the results are read.
    wait_for(
        lambda: not client.BatchV1Api().list_namespaced_job(jobs_ns).items,
        30,
        "the finished tasks' Jobs to be deleted",
        pod_operator,
    )
    journal = wait_final_event(stack.database_url, namespace, "todo-answered-build", pod_operator)
    # Workers in Pods reported their events through files the operator ingested.
    assert {"TASK_STARTED", "FILE_CREATED", "TASK_COMPLETED"} <= {e["type"] for e in journal}


def test_cancel_deletes_the_running_worker_pod(
    stack: Stack, namespace: str, jobs_ns: str, pod_operator: ServiceProcess
) -> None:
    _approved_gitops(stack, namespace, pod_operator)
    create(
        namespace,
        "runs",
        "Run",
        "notes-slow",
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": "command", "command": "sleep 120"},
        },
    )
    running = _running_pod(namespace, "notes-slow", jobs_ns, pod_operator)
    assert_restricted(running)
    [task] = [t for t in tasks_of(namespace, "notes-slow") if t["status"].get("phase") == "running"]
    assert running["metadata"]["name"] in task["status"]["message"]

    # The apiserver reaches the kubelet (by the Node's address, with client certificates
    # both ways) for the Pod's log.
    def pod_log() -> str | None:
        text = client.CoreV1Api().read_namespaced_pod_log(running["metadata"]["name"], jobs_ns)
        return text if "worker pod" in text else None

    text = wait_for(pod_log, 30, "the worker's first log line through the apiserver", pod_operator)
    assert "uid=10001" in text

    patch_spec(namespace, "runs", "notes-slow", {"cancel": True})
    run = wait_run_done(namespace, "notes-slow", pod_operator, timeout=60)
    assert run["status"]["phase"] == "cancelled"
    wait_for(
        lambda: pod(jobs_ns, running["metadata"]["name"]) is None,
        30,
        "the cancelled task's Pod to be deleted",
        pod_operator,
    )
    # Foreground deletion: the Job itself goes once the garbage collector saw its Pod go.
    wait_for(
        lambda: client.BatchV1Api().list_namespaced_job(jobs_ns).items == [],
        30,
        "the cancelled task's Job to be deleted",
        pod_operator,
    )


def test_a_worker_pod_deleted_mid_task_runs_the_task_again_as_attempt_2(
    stack: Stack, namespace: str, jobs_ns: str, pod_operator: ServiceProcess, data_dir: Path
) -> None:
    _approved_gitops(stack, namespace, pod_operator)
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
    first = _running_pod(namespace, "notes-lost", jobs_ns, pod_operator)
    first_log = _attempt_log(data_dir, namespace, "notes-lost", "task-001", 1)
    wait_for(
        lambda: first_log.is_file() and "worker pod" in first_log.read_text(),
        30,
        "attempt 1's worker to log",
        pod_operator,
    )
    # Mid-task: the worker has started its task (recorded), its coder sleeps. Under
    # gVisor the interpreter takes seconds to start after the Pod's first line.
    wait_for(
        lambda: any(
            e["type"] == "TASK_STARTED" and e["task"] == "task-001"
            for e in events(stack.database_url, namespace, "notes-lost")
        ),
        60,
        "attempt 1's TASK_STARTED",
        pod_operator,
    )
    # Someone deletes the Pod mid-task (not the operator).
    client.CoreV1Api().delete_namespaced_pod(
        first["metadata"]["name"], jobs_ns, grace_period_seconds=0
    )

    run = wait_run_done(namespace, "notes-lost", pod_operator, timeout=240)
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    tasks = {t["spec"]["definition"]["id"]: t["status"] for t in tasks_of(namespace, "notes-lost")}
    assert tasks["task-001"]["attempts"] == 2
    assert tasks["task-001"]["executor"]["name"].endswith("-a2")
    assert tasks["task-001"]["executor"]["pod"] != first["metadata"]["name"]
    assert {tasks[t]["attempts"] for t in tasks if t != "task-001"} == {1}
    journal = wait_final_event(stack.database_url, namespace, "notes-lost", pod_operator)
    started = [
        e["payload"]["attempt"]
        for e in journal
        if e["type"] == "TASK_STARTED" and e["task"] == "task-001"
    ]
    assert started == [1, 2]
    assert sum(e["type"] == "TASK_COMPLETED" and e["task"] == "task-001" for e in journal) == 1
    # Both attempts' output is kept, each under its attempt number.
    second_log = _attempt_log(data_dir, namespace, "notes-lost", "task-001", 2)
    assert first["metadata"]["name"] in first_log.read_text()
    assert tasks["task-001"]["executor"]["pod"] in second_log.read_text()


def test_a_job_past_its_deadline_fails_its_task_with_that_reason(
    stack: Stack, namespace: str, jobs_ns: str, data_dir: Path, tmp_path: Path
) -> None:
    operator = _operator(
        stack, namespace, jobs_ns, data_dir, tmp_path / "logs", PRAZIUM_TASK_DEADLINE_SECONDS="8"
    )
    try:
        _approved_gitops(stack, namespace, operator)
        create(
            namespace,
            "runs",
            "Run",
            "notes-late",
            {
                "projectRef": {"name": "notes-gitops"},
                "agent": {"coder": "command", "command": "sleep 120"},
            },
        )
        run = wait_run_done(namespace, "notes-late", operator, timeout=90)
    finally:
        operator.stop()
    assert run["status"]["phase"] == "failed"
    tasks = {t["spec"]["definition"]["id"]: t["status"] for t in tasks_of(namespace, "notes-late")}
    assert tasks["task-001"]["phase"] == "failed"
    assert tasks["task-001"]["attempts"] == 1  # a deadline is not retried
    message = tasks["task-001"]["message"]
    assert "DeadlineExceeded" in message and "deadline of 8 s" in message, message


def test_tasks_wait_with_a_clear_message_while_the_node_is_cordoned(
    stack: Stack, namespace: str, jobs_ns: str, pod_operator: ServiceProcess
) -> None:
    _approved_gitops(stack, namespace, pod_operator)
    set_unschedulable(True)
    try:
        create(namespace, "runs", "Run", "notes-wait", {"projectRef": {"name": "notes-gitops"}})

        def waiting_message() -> str | None:
            tasks = tasks_of(namespace, "notes-wait")
            status = tasks[0].get("status", {}) if tasks else {}
            message = str(status.get("message") or "")
            return message if "room on the nodes" in message else None

        message = wait_for(waiting_message, 60, "task-001 to wait for a node", pod_operator)
        # In the operator's queue, not as a Pod no node takes: no Job, no attempt.
        assert message.startswith("waiting in the operator's queue for room on the nodes")
        assert "unschedulable (cordoned)" in message, message
        [task] = tasks_of(namespace, "notes-wait")[:1]
        assert task["status"]["phase"] in ("pending", "queued") and not task["status"].get(
            "attempts"
        )
        assert not client.BatchV1Api().list_namespaced_job(jobs_ns).items
    finally:
        set_unschedulable(False)
    run = wait_run_done(namespace, "notes-wait", pod_operator, timeout=240)
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    assert {t["status"]["attempts"] for t in tasks_of(namespace, "notes-wait")} == {1}


def _answer(question: dict[str, Any]) -> object:
    kind, options = question["type"], question.get("options") or []
    if kind == "boolean":
        return True
    if kind == "multi_choice":
        return options[:1]
    return options[0] if kind == "single_choice" else "Keep it simple."


def test_a_rest_build_runs_its_tasks_in_worker_pods(
    http: httpx.Client,
    api: str,
    api_key: str,
    namespace: str,
    jobs_ns: str,
    pod_operator: ServiceProcess,
) -> None:
    created = http.post(
        "/projects",
        json={"name": "Pod Notes", "description": "A notes app where users write notes with tags."},
    )
    assert created.status_code == 201, created.text
    base = f"/projects/{created.json()['data']['id']}"
    questions = http.post(f"{base}/clarify").json()["data"]["questions"]
    answered = http.post(
        f"{base}/answers",
        json={"answers": [{"questionId": q["id"], "answer": _answer(q)} for q in questions]},
    )
    assert answered.status_code == 200, answered.text
    assert http.post(f"{base}/approve").status_code == 200
    started = http.post(f"{base}/runs", json={"trigger": "manual"})
    assert started.status_code == 201, started.text
    run_url = f"{base}/runs/{started.json()['data']['id']}"
    with httpx.stream(
        "GET",
        f"{api}/v1{run_url}/events/stream",
        timeout=300,
        headers={"Authorization": f"Bearer {api_key}"},
    ) as stream:
        types = [f.event for f in frames(stream)]
    assert types[-1] == "RUN_COMPLETED", types
    done = http.get(run_url).json()["data"]
    assert done["status"] == "succeeded", done
    assert done["verificationResult"]["exitCode"] == 0
    # Every task ran in a Pod on the node: its Task names the Job and the Pod, and the
    # kubelet reported the container started.
    api_tasks = done["tasks"]
    assert api_tasks and all(t["status"] == "succeeded" for t in api_tasks)
    crs = client.CustomObjectsApi().list_namespaced_custom_object(
        "prazium.io", "v1alpha1", namespace, "tasks"
    )["items"]
    assert len(crs) == len(api_tasks)
    for task in crs:
        ref = task["status"]["executor"]
        assert ref["kind"] == "kubernetes" and ref["pod"].startswith(ref["name"])
        assert started_events(jobs_ns, ref["pod"]), ref
