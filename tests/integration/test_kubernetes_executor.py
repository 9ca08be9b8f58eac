"""The kubernetes executor against the local control plane: a batch/v1 Job per task
attempt, owned by its Task, secrets by reference only, deleted on cancel.

The local control plane has no kubelet, so the Job's Pod never runs: the task stays
running until the run is cancelled, which is exactly what this test needs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.build import (
    create,
    get,
    kubectl_apply,
    patch_spec,
    tasks_of,
    wait_phase,
    wait_run_done,
)
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET_VALUE = "sk-test-0123456789-never-in-a-spec"
SETTINGS = {
    "PRAZIUM_EXECUTOR": "kubernetes",
    "PRAZIUM_WORKER_IMAGE": "prazium/worker:it",
    "PRAZIUM_REPO_VOLUME_CLAIM": "it-repos",
    "PRAZIUM_TASK_DEADLINE_SECONDS": "600",
    "PRAZIUM_DATABASE_SECRET_NAME": "it-database",
    "PRAZIUM_DATABASE_SECRET_KEY": "dsn",
}


@pytest.fixture
def k8s_operator(stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
                 ) -> Iterator[ServiceProcess]:
    proc = start_operator(stack, data_dir, [namespace], tmp_path / "logs", **SETTINGS)
    yield proc
    proc.stop()


def _job(namespace: str, name: str) -> dict[str, Any] | None:
    try:
        job = client.BatchV1Api().read_namespaced_job(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(client.ApiClient().sanitize_for_serialization(job))


def test_kubernetes_executor_submits_an_owned_restricted_job_and_cancel_deletes_it(
    stack: Stack, namespace: str, k8s_operator: ServiceProcess, data_dir: Path
) -> None:
    client.CoreV1Api().create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name="notes-agent-keys"),
        string_data={"OPENAI_API_KEY": SECRET_VALUE}))
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, k8s_operator)
    create(namespace, "runs", "Run", "notes-k8s", {
        "projectRef": {"name": "notes-gitops"},
        "agent": {"credentialsSecret": "notes-agent-keys"}})

    def first_task_submitted() -> dict[str, Any] | None:
        tasks = tasks_of(namespace, "notes-k8s")
        status = tasks[0].get("status", {}) if tasks else {}
        return tasks[0] if status.get("executor", {}).get("name") else None

    task = wait_for(first_task_submitted, 30, "task-001's Job to be submitted", k8s_operator,
                    interval=0.1)
    assert task["metadata"]["name"] == "notes-k8s-task-001"
    assert task["status"]["phase"] == "running" and task["status"]["attempts"] == 1
    assert task["status"]["executor"] == {"kind": "kubernetes", "name": "notes-k8s-task-001-a1"}
    job = _job(namespace, "notes-k8s-task-001-a1")
    assert job is not None

    # Owned by the Task (so the Task's deletion garbage-collects it), one attempt, bounded.
    assert job["metadata"]["ownerReferences"] == [{
        "apiVersion": "prazium.io/v1alpha1", "kind": "Task", "name": "notes-k8s-task-001",
        "uid": task["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert job["metadata"]["labels"]["prazium.io/run"] == "notes-k8s"
    spec = job["spec"]
    assert spec["backoffLimit"] == 0
    assert spec["activeDeadlineSeconds"] == 600
    assert spec["ttlSecondsAfterFinished"] > 0
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    [container] = pod["containers"]
    assert container["image"] == "prazium/worker:it"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "repos", "persistentVolumeClaim": {"claimName": "it-repos"}} in [
        {"name": v["name"], "persistentVolumeClaim": v.get("persistentVolumeClaim")}
        for v in pod["volumes"]]
    assert {"name": "repos", "mountPath": str(data_dir)} in [
        {"name": m["name"], "mountPath": m["mountPath"]} for m in container["volumeMounts"]]
    # Secrets by reference: the agent's credentials as envFrom, the DSN as a secretKeyRef.
    assert container["envFrom"] == [{"secretRef": {"name": "notes-agent-keys"}}]
    dsn = next(e for e in container["env"] if e["name"] == "PRAZIUM_DATABASE_URL")
    assert dsn["valueFrom"]["secretKeyRef"] == {"name": "it-database", "key": "dsn"}
    text = json.dumps(job)
    assert SECRET_VALUE not in text and stack.database_url not in text
    # The worker's request is on the shared volume, at the path the container is given.
    request = Path(container["command"][-1])
    assert request.is_file() and request.is_relative_to(data_dir)
    assert json.loads(request.read_text())["credentials_secret"] == "notes-agent-keys"
    assert SECRET_VALUE not in request.read_text()

    # No kubelet: the Job never finishes, the task stays running; cancel deletes the Job
    # (foreground deletion, completed by the controller-manager's garbage collector).
    assert (get(namespace, "runs", "notes-k8s") or {})["status"]["phase"] == "executing"
    patch_spec(namespace, "runs", "notes-k8s", {"cancel": True})
    run = wait_run_done(namespace, "notes-k8s", k8s_operator, timeout=30)
    assert run["status"]["phase"] == "cancelled"
    assert {t["status"]["phase"] for t in tasks_of(namespace, "notes-k8s")} == {"cancelled"}
    wait_for(lambda: _job(namespace, "notes-k8s-task-001-a1") is None, 20,
             "the cancelled task's Job to be deleted", k8s_operator, interval=0.1)
    jobs = client.BatchV1Api().list_namespaced_job(
        namespace, label_selector="prazium.io/run=notes-k8s").items
    assert jobs == []
