"""The kubernetes executor: one batch/v1 Job per task attempt.

The Job runs the same worker command as the local executor, in the worker
image, with the shared repo volume mounted at the operator's data dir path (so
every path in the request is valid inside the Pod). backoffLimit 0: retries
are the operator's (attempt + 1, a new Job). The Job is owned by its Task, so
deleting a Run garbage-collects its Jobs and Pods.

Secrets are referenced, never copied: the agent's credentials Secret
(spec.agent.credentialsSecret) as envFrom, the database URL as a secretKeyRef
to PRAZIUM_DATABASE_SECRET_NAME / PRAZIUM_DATABASE_SECRET_KEY; both Secrets
must exist in the task's namespace.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_operator import kube
from prazium_operator.executor.base import WorkerState
from prazium_operator.settings import Settings
from prazium_operator.worker.request import WorkerRequest, read_result, request_path

WORKER_UID = 10001
JOB_TTL_SECONDS = 3600


def job_name(task_cr: str, attempt: int) -> str:
    """Natural key (task, attempt): creating the same attempt twice is a no-op (409)."""
    return f"{task_cr[:55]}-a{attempt}"


def build_job(request: WorkerRequest, owner: dict[str, Any], settings: Settings
              ) -> dict[str, Any]:
    """The Job manifest for one task attempt (plain dict, apply-ready)."""
    name = job_name(owner["metadata"]["name"], request.attempt)
    data_dir = str(settings.data_dir)
    env = [
        {"name": "PRAZIUM_DATA_DIR", "value": data_dir},
        # The DSN holds a password: the Job references the Secret, never the value.
        {"name": "PRAZIUM_DATABASE_URL", "valueFrom": {"secretKeyRef": {
            "name": settings.database_secret_name, "key": settings.database_secret_key}}},
    ]
    # The agent's credentials (spec.agent.credentialsSecret) become the worker's
    # environment, key by key, without their values ever appearing in the Job.
    env_from = [{"secretRef": {"name": request.credentials_secret}}] \
        if request.credentials_secret else []
    labels = {kube.LABEL_PROJECT: request.project, kube.LABEL_RUN: request.run,
              kube.LABEL_MANAGED_BY: "prazium", "prazium.io/task": request.task_id}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": name, "namespace": request.namespace, "labels": labels,
            "ownerReferences": [kube.owner_reference(owner)],
            "annotations": {"prazium.io/attempt": str(request.attempt)},
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": settings.task_deadline_seconds,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True, "runAsUser": WORKER_UID,
                        "runAsGroup": WORKER_UID, "fsGroup": WORKER_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [{
                        "name": "worker",
                        "image": settings.worker_image,
                        "command": ["python", "-m", "prazium_operator.worker", "--request",
                                    str(request_path(Path(request.result_path)))],
                        "env": env,
                        "envFrom": env_from,
                        "resources": {
                            "requests": {"cpu": settings.worker_cpu_request,
                                         "memory": settings.worker_memory_request},
                            "limits": {"cpu": settings.worker_cpu_limit,
                                       "memory": settings.worker_memory_limit},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": [{"name": "repos", "mountPath": data_dir},
                                         {"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [
                        {"name": "repos", "persistentVolumeClaim": {
                            "claimName": settings.repo_volume_claim}},
                        {"name": "tmp", "emptyDir": {}},
                    ],
                },
            },
        },
    }


class KubernetesExecutor:
    kind = "kubernetes"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # The cluster schedules Jobs; this only bounds what one operator submits at once.
        self.max_workers = settings.max_workers
        self._running: set[str] = set()

    @property
    def active(self) -> int:
        return len(self._running)

    def has_capacity(self) -> bool:
        return self.active < self.max_workers

    async def start(self, request: WorkerRequest, owner: dict[str, Any]) -> dict[str, Any]:
        result = Path(request.result_path)
        result.parent.mkdir(parents=True, exist_ok=True)
        result.unlink(missing_ok=True)
        request_path(result).write_text(request.to_json(), encoding="utf-8")
        job = build_job(request, owner, self.settings)
        try:
            await asyncio.to_thread(client.BatchV1Api().create_namespaced_job,
                                    request.namespace, job)  # type: ignore[arg-type]
        except ApiException as exc:
            if exc.status != 409:  # the same attempt already submitted: adopt it
                raise
        self._running.add(job["metadata"]["name"])
        return {"kind": self.kind, "name": job["metadata"]["name"]}

    async def state(self, ref: dict[str, Any], request: WorkerRequest) -> WorkerState:
        if read_result(Path(request.result_path)) is not None:
            self._running.discard(str(ref.get("name")))
            return WorkerState.EXITED
        name = ref.get("name")
        if not name:
            return WorkerState.LOST
        try:
            job = await asyncio.to_thread(client.BatchV1Api().read_namespaced_job_status,
                                          name, request.namespace)
        except ApiException as exc:
            if exc.status == 404:
                self._running.discard(name)
                return WorkerState.LOST
            raise
        self._running.add(name)
        status = job.status
        if status and (status.succeeded or status.failed):
            self._running.discard(name)
            # Finished without a result file: the Pod died (deadline, OOM, eviction).
            return WorkerState.LOST
        return WorkerState.RUNNING

    async def stop(self, ref: dict[str, Any], request: WorkerRequest) -> None:
        name = ref.get("name")
        if not name:
            return
        try:
            await asyncio.to_thread(
                client.BatchV1Api().delete_namespaced_job, name, request.namespace,
                body=client.V1DeleteOptions(propagation_policy="Foreground",
                                            grace_period_seconds=0))
        except ApiException as exc:
            if exc.status != 404:
                raise
        self._running.discard(name)

    async def wait_for_exit(self, timeout: float) -> None:
        await asyncio.sleep(timeout)  # Job status is polled

    async def shutdown(self) -> None:
        self._running.clear()

