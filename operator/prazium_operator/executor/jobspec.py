"""The one Job manifest both kinds of sandbox Pod start from: a task attempt's worker
(kubernetes.py) and a run's verification (verification.py).

What they share is what makes them sandboxes, so it is written once: the job namespace,
the worker image and its resources, the restricted Pod (its own uid, no ServiceAccount
token, no Service links, prazium_kit.podsecurity), only some subPaths of the repo volume
plus a private /tmp, no retry of the Job's own (backoffLimit 0: retries are the
operator's), a deadline and a TTL, and how long the Pod stays on a node that stopped
answering (tolerations; executor/nodes.py is the operator's own, sooner judgement) and
which lost nodes it keeps off. What differs (the command, the environment, the
mounted directories, the labels) is each caller's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prazium_kit import kube, podsecurity
from prazium_operator.settings import Settings

WORKER_UID = 10001
# Like the local executor's stop grace: the worker is crash-only (a killed attempt is
# retried), and bash as PID 1 of the container leaves TERM to the kubelet's KILL.
STOP_GRACE_SECONDS = 3
JOB_TTL_SECONDS = 3600
LABEL_TASK_NAMESPACE = "prazium.io/task-namespace"
LABEL_TASK = "prazium.io/task"
# worker | verification: what the chart's NetworkPolicy selects.
LABEL_ROLE = "prazium.io/role"
# The taints the node lifecycle controller puts on a node that stopped answering.
NODE_LOST_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def digest(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def label_value(value: str) -> str:
    """value itself when it is a valid label value (<= 63 chars), else a prefix and a hash."""
    return value if len(value) <= 63 else f"{value[:52]}-{digest(value)}"


def run_labels(
    namespace: str, project: str, run: str, role: str, task_cr: str | None = None
) -> dict[str, str]:
    """The labels naming a Job in the job namespace (ownerReferences do not cross
    namespaces): its tenant, project, run, Task (a worker's) and role."""
    labels = {
        LABEL_TASK_NAMESPACE: namespace,
        kube.LABEL_PROJECT: label_value(project),
        kube.LABEL_RUN: label_value(run),
    }
    if task_cr is not None:
        labels[LABEL_TASK] = label_value(task_cr)
    labels[kube.LABEL_MANAGED_BY] = "prazium"
    labels[LABEL_ROLE] = role
    return labels


def run_selector(namespace: str, run: str) -> str:
    """Label selector for every Job of one Run (in the job namespace)."""
    return f"{LABEL_TASK_NAMESPACE}={namespace},{kube.LABEL_RUN}={label_value(run)}"


def volume_subpath(settings: Settings, path: Path) -> str:
    """path (on the repo volume) relative to the volume's root: a mount's subPath."""
    return str(path.relative_to(settings.data_dir))


def repo_mount(settings: Settings, path: Path, *, read_only: bool = False) -> dict[str, Any]:
    """path of the repo volume mounted where it is on the operator's side (subPath)."""
    mount: dict[str, Any] = {
        "name": "repos",
        "mountPath": str(path),
        "subPath": volume_subpath(settings, path),
    }
    if read_only:
        mount["readOnly"] = True
    return mount


def node_tolerations(settings: Settings) -> list[dict[str, Any]]:
    """Evicted node_toleration_seconds after its node is marked not ready or unreachable
    (Kubernetes' default is 300 s): an attempt on a lost node is crash-only work that
    its next attempt redoes elsewhere, so waiting for the node is no use."""
    return [
        {
            "key": key,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": settings.node_toleration_seconds,
        }
        for key in NODE_LOST_TAINTS
    ]


def avoid_nodes_affinity(nodes: Sequence[str]) -> dict[str, Any]:
    """Keep off these nodes (lost ones the scheduler still takes for Ready)."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": list(nodes)}]}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}
        }
    }


def sandbox_job(
    settings: Settings,
    *,
    name: str,
    labels: dict[str, str],
    deadline_seconds: int,
    container: dict[str, Any],
    annotations: dict[str, str] | None = None,
    avoid_nodes: Sequence[str] = (),
) -> dict[str, Any]:
    """A Job (plain dict, apply-ready) in the job namespace: container (sandbox_container)
    as the one container of a restricted Pod, the repo volume and a private /tmp;
    avoid_nodes: nodes its Pod must not run on (executor/nodes.py's lost ones)."""
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": STOP_GRACE_SECONDS,
        "automountServiceAccountToken": False,
        # No Service addresses in the environment (the database's, the apiserver's).
        "enableServiceLinks": False,
        "securityContext": podsecurity.pod_security_context(WORKER_UID, fs_group=True),
        "containers": [container],
        "volumes": [
            {"name": "repos", "persistentVolumeClaim": {"claimName": settings.repo_volume_claim}},
            {"name": "tmp", "emptyDir": {}},
        ],
        "tolerations": node_tolerations(settings),
    }
    if avoid_nodes:
        pod["affinity"] = avoid_nodes_affinity(avoid_nodes)
    if settings.worker_service_account:
        pod["serviceAccountName"] = settings.worker_service_account
    metadata: dict[str, Any] = {"name": name, "namespace": settings.job_namespace, "labels": labels}
    if annotations is not None:
        metadata["annotations"] = annotations
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline_seconds,
            "ttlSecondsAfterFinished": JOB_TTL_SECONDS,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def sandbox_container(
    settings: Settings,
    name: str,
    command: list[str],
    env: list[dict[str, str]],
    mounts: list[dict[str, Any]],
    env_from: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The worker image running command, restricted, with its resources; mounts (of the
    repo volume) and a private /tmp; env_from only where Secrets are meant to reach."""
    container: dict[str, Any] = {
        "name": name,
        "image": settings.worker_image,
        "imagePullPolicy": settings.worker_image_pull_policy,
        "command": command,
        "env": env,
    }
    if env_from is not None:
        container["envFrom"] = env_from
    container["resources"] = {
        "requests": {"cpu": settings.worker_cpu_request, "memory": settings.worker_memory_request},
        "limits": {"cpu": settings.worker_cpu_limit, "memory": settings.worker_memory_limit},
    }
    container["securityContext"] = podsecurity.container_security_context()
    container["volumeMounts"] = [*mounts, {"name": "tmp", "mountPath": "/tmp"}]
    return container
