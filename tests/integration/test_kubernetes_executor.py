"""The kubernetes executor against the local control plane: a batch/v1 Job per task
attempt in the operator's own namespace (never the tenant's), labelled with its task,
secrets by reference only, deleted on cancel and when its Run is deleted.

The operator runs as a ServiceAccount holding exactly the chart's RBAC (the ClusterRole
plus the Role in its own namespace), so a missing grant fails these tests too.

The worker image here is a name the node does not have (and pull policy Never, so
nothing is fetched): the Job's Pod never starts, the task stays running until the run
is cancelled or deleted, which is exactly what these tests need. Worker Pods that
really run are tests/integration/test_node_jobs.py's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from prazium_operator.executor import noderoom
from tests.support.build import (
    api,
    create,
    get,
    kubectl_apply,
    patch_spec,
    tasks_of,
    wait_phase,
    wait_run_done,
)
from tests.support.rbac import delete_cluster_role, service_account_kubeconfig
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET_VALUE = "sk-test-0123456789-never-in-a-spec"
WORKER_SA = "it-worker"
SETTINGS = {
    "PRAZIUM_EXECUTOR": "kubernetes",
    "PRAZIUM_WORKER_IMAGE": "prazium/worker:it",
    "PRAZIUM_WORKER_IMAGE_PULL_POLICY": "Never",
    "PRAZIUM_REPO_VOLUME_CLAIM": "it-repos",
    "PRAZIUM_TASK_DEADLINE_SECONDS": "600",
    "PRAZIUM_WORKER_SERVICE_ACCOUNT": WORKER_SA,
}


@pytest.fixture
def job_namespace(stack: Stack) -> Iterator[str]:
    """The operator's own (release) namespace, where worker Jobs run."""
    name = f"pz-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_service_account(
        name, {"metadata": {"name": WORKER_SA}, "automountServiceAccountToken": False}
    )
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def operator_env(stack: Stack, job_namespace: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The operator's environment: the chart's ServiceAccount in the job namespace."""
    kubeconfig, role = service_account_kubeconfig(
        stack.kubeconfig, job_namespace, "operator", tmp_path / "kubeconfig"
    )
    yield {
        "PRAZIUM_KUBECONFIG": str(kubeconfig),
        "PRAZIUM_JOB_NAMESPACE": job_namespace,
        **SETTINGS,
    }
    delete_cluster_role(role)


@pytest.fixture
def k8s_operator(
    stack: Stack, namespace: str, operator_env: dict[str, str], data_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    proc = start_operator(stack, data_dir, [namespace], tmp_path / "logs", **operator_env)
    yield proc
    proc.stop()
    assert "forbidden" not in proc.log_tail(2000).lower(), proc.log_tail(2000)


def _job(namespace: str, name: str) -> dict[str, Any] | None:
    try:
        job = client.BatchV1Api().read_namespaced_job(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(client.ApiClient().sanitize_for_serialization(job))


def _run_jobs(
    job_namespace: str, namespace: str, run: str, ahead: bool | None = False
) -> list[Any]:
    """The run's Jobs: those created when their task started (ahead False), those
    created ahead of their task (True, executor/prestart.py), or all (None)."""
    selector = f"prazium.io/task-namespace={namespace},prazium.io/run={run}"
    if ahead is not None:
        selector += ",prazium.io/start" if ahead else ",!prazium.io/start"
    return list(
        client.BatchV1Api().list_namespaced_job(job_namespace, label_selector=selector).items
    )


def _start_run(
    stack: Stack, namespace: str, operator: ServiceProcess, run: str, **spec: Any
) -> dict[str, Any]:
    """An approved project and a Run whose first task's Job is submitted; the Task."""
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)
    create(namespace, "runs", "Run", run, {"projectRef": {"name": "notes-gitops"}, **spec})

    def first_task_submitted() -> dict[str, Any] | None:
        tasks = tasks_of(namespace, run)
        status = tasks[0].get("status", {}) if tasks else {}
        return tasks[0] if status.get("executor", {}).get("name") else None

    return dict(
        wait_for(first_task_submitted, 30, "task-001's Job to be submitted", operator, interval=0.1)
    )


def test_kubernetes_executor_submits_a_restricted_job_in_its_own_namespace_and_cancel_deletes_it(
    stack: Stack, namespace: str, job_namespace: str, k8s_operator: ServiceProcess, data_dir: Path
) -> None:
    client.CoreV1Api().create_namespaced_secret(
        namespace,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="notes-agent-keys"),
            string_data={"OPENAI_API_KEY": SECRET_VALUE},
        ),
    )
    task = _start_run(
        stack, namespace, k8s_operator, "notes-k8s", agent={"credentialsSecret": "notes-agent-keys"}
    )
    assert task["metadata"]["name"] == "notes-k8s-task-001"
    assert task["status"]["phase"] == "running" and task["status"]["attempts"] == 1
    ref = task["status"]["executor"]
    assert ref["kind"] == "kubernetes"
    assert ref["name"].endswith("-a1") and len(ref["name"]) <= 63
    assert namespace in ref["name"]  # readable, and unique across tenants (hashed)
    job = _job(job_namespace, ref["name"])
    assert job is not None

    # Nothing in the tenant's namespace: no Job, no Pod, no copied Secret.
    assert client.BatchV1Api().list_namespaced_job(namespace).items == []
    assert client.CoreV1Api().list_namespaced_pod(namespace).items == []
    assert [
        s.metadata.name
        for s in client.CoreV1Api().list_namespaced_secret(namespace).items
        if s.type != "kubernetes.io/service-account-token"
    ] == ["notes-agent-keys"]

    # No ownerReference (they cannot cross namespaces): labels name the task instead.
    assert not job["metadata"].get("ownerReferences")
    labels = job["metadata"]["labels"]
    assert labels["prazium.io/task-namespace"] == namespace
    assert labels["prazium.io/run"] == "notes-k8s"
    assert labels["prazium.io/task"] == "notes-k8s-task-001"
    assert [j.metadata.name for j in _run_jobs(job_namespace, namespace, "notes-k8s")] == [
        ref["name"]
    ]
    # Its dependents' Jobs may be created ahead (their Pods would wait for the go signal):
    # only of tasks that have not started.
    not_started = {
        t["metadata"]["name"]
        for t in tasks_of(namespace, "notes-k8s")
        if (t.get("status") or {}).get("phase") in (None, "pending", "queued")
    }
    for ahead in _run_jobs(job_namespace, namespace, "notes-k8s", ahead=True):
        assert ahead.metadata.labels["prazium.io/task"] in not_started
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 600
    assert spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == WORKER_SA
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    assert container["image"] == "prazium/worker:it"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "repos", "persistentVolumeClaim": {"claimName": "it-repos"}} in [
        {"name": v["name"], "persistentVolumeClaim": v.get("persistentVolumeClaim")}
        for v in pod["volumes"]
    ]
    # Only its own project's directories of the volume, never the whole of it.
    repo_mounts = [m for m in container["volumeMounts"] if m["name"] == "repos"]
    assert repo_mounts and all(m.get("subPath") for m in repo_mounts)
    assert str(data_dir) not in {m["mountPath"] for m in repo_mounts}
    # The tenant's agent credentials by reference, from the admin-provisioned
    # "<tenant>.<secret>" in the job namespace; no database DSN at all.
    assert container["envFrom"] == [{"secretRef": {"name": f"{namespace}.notes-agent-keys"}}]
    assert not any("DATABASE" in e["name"] or "valueFrom" in e for e in container["env"])
    text = json.dumps(job)
    assert SECRET_VALUE not in text and stack.database_url not in text
    # The worker's request is on the shared volume, at the path the container is given,
    # and its output goes to the attempt's log file beside it (it outlives the Pod).
    assert container["imagePullPolicy"] == "Never"
    # bash -c SCRIPT worker REQUEST LOG GO CODER GATE
    request, worker_log = Path(container["command"][4]), Path(container["command"][5])
    assert worker_log == request.with_suffix("").with_suffix(".log")
    assert request.is_file() and request.is_relative_to(data_dir)
    assert json.loads(request.read_text())["credentials_secret"] == "notes-agent-keys"
    assert SECRET_VALUE not in request.read_text()

    # The Pod cannot start: the Job never finishes, the task stays running; cancel deletes the Job
    # (foreground deletion, completed by the controller-manager's garbage collector).
    assert (get(namespace, "runs", "notes-k8s") or {})["status"]["phase"] == "executing"
    patch_spec(namespace, "runs", "notes-k8s", {"cancel": True})
    run = wait_run_done(namespace, "notes-k8s", k8s_operator, timeout=30)
    assert run["status"]["phase"] == "cancelled"
    assert {t["status"]["phase"] for t in tasks_of(namespace, "notes-k8s")} == {"cancelled"}
    wait_for(
        lambda: _job(job_namespace, ref["name"]) is None,
        20,
        "the cancelled task's Job to be deleted",
        k8s_operator,
        interval=0.1,
    )
    assert _run_jobs(job_namespace, namespace, "notes-k8s", ahead=None) == []


@pytest.mark.parametrize("operator_up", [True, False], ids=["operator-up", "operator-down"])
def test_deleting_a_run_deletes_its_jobs_in_the_job_namespace(
    stack: Stack,
    namespace: str,
    job_namespace: str,
    k8s_operator: ServiceProcess,
    operator_env: dict[str, str],
    data_dir: Path,
    tmp_path: Path,
    operator_up: bool,
) -> None:
    task = _start_run(stack, namespace, k8s_operator, "notes-del")
    name = task["status"]["executor"]["name"]
    assert _job(job_namespace, name) is not None
    # A Job the operator does not remember (say, an attempt submitted just before a
    # crash) goes too: deletion is by label.
    stray = client.BatchV1Api().read_namespaced_job(name, job_namespace)
    stray_body = {
        "metadata": {"name": f"{name[:50]}-stray", "labels": dict(stray.metadata.labels)},
        "spec": {
            "template": {
                "metadata": {"labels": {"x": "y"}},
                "spec": client.ApiClient().sanitize_for_serialization(stray.spec.template.spec),
            }
        },
    }
    client.BatchV1Api().create_namespaced_job(job_namespace, stray_body)
    assert len(_run_jobs(job_namespace, namespace, "notes-del")) == 2

    operator = k8s_operator
    if not operator_up:
        operator.stop()
    api().delete_namespaced_custom_object("prazium.io", "v1alpha1", namespace, "runs", "notes-del")
    if not operator_up:
        # The finalizer holds the Run (and nothing deletes its Jobs) until an operator
        # is back; then its delete handler removes them and releases the Run.
        assert (get(namespace, "runs", "notes-del") or {})["metadata"]["deletionTimestamp"]
        assert len(_run_jobs(job_namespace, namespace, "notes-del")) == 2
        operator = start_operator(stack, data_dir, [namespace], tmp_path / "logs-2", **operator_env)
    try:
        wait_for(
            lambda: get(namespace, "runs", "notes-del") is None,
            30,
            "the Run to be deleted (its finalizer released)",
            operator,
            interval=0.1,
        )
        wait_for(
            lambda: _run_jobs(job_namespace, namespace, "notes-del", ahead=None) == [],
            20,
            "the deleted Run's Jobs to be gone",
            operator,
            interval=0.1,
        )
        assert client.BatchV1Api().list_namespaced_job(namespace).items == []
    finally:
        if operator is not k8s_operator:
            operator.stop()


def test_the_room_on_the_nodes_counts_the_job_namespaces_pods_with_the_charts_rights(
    stack: Stack, job_namespace: str, operator_env: dict[str, str]
) -> None:
    """The chart grants Pods in the job namespace only: the room's reader falls back to
    those (and says so once) instead of failing; with the right to list every
    namespace's Pods (as `make up`'s operator has), it counts them all."""
    elsewhere = f"pz-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=elsewhere)))
    try:
        for namespace in (job_namespace, elsewhere):
            core.create_namespaced_pod(
                namespace,
                {
                    "metadata": {"name": "holds-room"},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": SETTINGS["PRAZIUM_WORKER_IMAGE"],
                                "imagePullPolicy": "Never",
                            }
                        ]
                    },
                },
            )
        as_chart = client.CoreV1Api(
            kube_config.new_client_from_config(operator_env["PRAZIUM_KUBECONFIG"])
        )
        reader = noderoom.ClusterReader(job_namespace, as_chart)
        for _ in range(2):  # the second read goes straight to the job namespace
            _, pods = reader()
            assert not reader.every_namespace
            assert {(p.metadata.namespace, p.metadata.name) for p in pods} == {
                (job_namespace, "holds-room")
            }
        admin = noderoom.ClusterReader(job_namespace)
        _, every = admin()
        assert admin.every_namespace
        assert {(job_namespace, "holds-room"), (elsewhere, "holds-room")} <= {
            (p.metadata.namespace, p.metadata.name) for p in every
        }
    finally:
        core.delete_namespace(elsewhere, propagation_policy="Background")
