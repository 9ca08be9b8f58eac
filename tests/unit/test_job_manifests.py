"""The two Jobs the kubernetes executor submits, rendered whole: a task attempt's worker
Job and a run's verification Job.

Both are held field by field against the full manifest (labels, annotations, restricted
Pod and container, volumes and subPaths, env, deadlines, TTL, ServiceAccount,
tolerations, the lost nodes kept off), so a change to either builder shows here as the
exact field it moved."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from prazium_operator.executor import verification
from prazium_operator.executor.kubernetes import build_job
from prazium_operator.settings import Settings
from prazium_operator.worker_contract import WorkerRequest

LABELS = {
    "prazium.io/task-namespace": "t1",
    "prazium.io/project": "shop",
    "prazium.io/run": "shop-1",
}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
RESOURCES = {
    "requests": {"cpu": "250m", "memory": "256Mi"},
    "limits": {"cpu": "2", "memory": "1Gi"},
}
VOLUMES = [
    {"name": "repos", "persistentVolumeClaim": {"claimName": "repos-claim"}},
    {"name": "tmp", "emptyDir": {}},
]
# Evicted 30 s (node_toleration_seconds) after the node is marked not ready or
# unreachable, not Kubernetes' 300 s.
TOLERATIONS = [
    {
        "key": f"node.kubernetes.io/{taint}",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 30,
    }
    for taint in ("not-ready", "unreachable")
]


def _settings(service_account: str = "") -> Settings:
    return Settings(
        data_dir=Path("/data"),
        worker_image="prazium/worker:test",
        worker_cpu_limit="2",
        repo_volume_claim="repos-claim",
        task_deadline_seconds=900,
        job_namespace="prazium",
        worker_service_account=service_account,
    )


def _request(credentials_secret: str | None) -> WorkerRequest:
    return WorkerRequest(
        namespace="t1",
        project="shop",
        run="shop-1",
        task={"id": "task-001", "slug": "shell", "pathScope": ["app/**"]},
        documents={},
        repo_path="/data/repos/t1/shop.git",
        worktree="/data/workspaces/t1/shop/shop-1/task-001",
        branch="feat/run-1/task-001-shell",
        base_commit="abc",
        attempt=2,
        result_path="/data/results/t1/shop-1/task-001-2.json",
        credentials_secret=credentials_secret,
    )


def _repo_mount(path: str, read_only: bool = False) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": "repos", "mountPath": f"/data/{path}", "subPath": path}
    return {**mount, "readOnly": True} if read_only else mount


@pytest.mark.parametrize(
    ("service_account", "secret"), [("prazium-worker", "shop-agent-keys"), ("", None)]
)
def test_the_worker_job_manifest_whole(service_account: str, secret: str | None) -> None:
    owner = {"metadata": {"name": "shop-1-task-001", "uid": "u-1"}}
    job = build_job(_request(secret), owner, _settings(service_account))
    labels = {
        **LABELS,
        "prazium.io/task": "shop-1-task-001",
        "app.kubernetes.io/managed-by": "prazium",
        "prazium.io/role": "worker",
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 3,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": POD_SECURITY,
        "containers": [
            {
                "name": "worker",
                "image": "prazium/worker:test",
                "imagePullPolicy": "IfNotPresent",
                "command": [
                    "bash",
                    "-c",
                    'set -o pipefail; echo "worker pod $HOSTNAME: $(id); root filesystem:'
                    ' $(touch /.probe 2>/dev/null && echo writable || echo read-only)"'
                    ' | tee -a "$2"; exec python -m prazium_operator.worker.waiting'
                    ' --request "$1" --log "$2" --go "$3" --coder "$4" --policy-gate "$5"',
                    "worker",
                    "/data/results/t1/shop-1/task-001-2.request.json",
                    "/data/results/t1/shop-1/task-001-2.log",
                    # The worker starts on its go signal (a Job may be created ahead).
                    "/data/results/t1/shop-1/task-001-2.go",
                    "template",
                    # ... and once its NetworkPolicy is in force, waiting 20 s at most.
                    "20",
                ],
                "env": [
                    {"name": "PRAZIUM_DATA_DIR", "value": "/data"},
                    {"name": "PRAZIUM_TASK_LOG_MAX_BYTES", "value": "1048576"},
                    {"name": "GIT_CONFIG_COUNT", "value": "1"},
                    {"name": "GIT_CONFIG_KEY_0", "value": "safe.directory"},
                    {"name": "GIT_CONFIG_VALUE_0", "value": "*"},
                    {"name": "PRAZIUM_WORKER_IN_POD", "value": "true"},
                    {"name": "HOME", "value": "/tmp"},
                ],
                "envFrom": [{"secretRef": {"name": f"t1.{secret}"}}] if secret else [],
                "resources": RESOURCES,
                "securityContext": CONTAINER_SECURITY,
                "volumeMounts": [
                    _repo_mount("repos/t1/shop.git"),
                    _repo_mount("repos/t1/shop.git/config", read_only=True),
                    _repo_mount("repos/t1/shop.git/hooks", read_only=True),
                    _repo_mount("repos/t1/shop.git/info", read_only=True),
                    _repo_mount("repos/t1/shop.git/objects/info", read_only=True),
                    _repo_mount("workspaces/t1/shop"),
                    _repo_mount("results/t1/shop-1"),
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        ],
        "volumes": VOLUMES,
        "tolerations": TOLERATIONS,
    }
    if service_account:
        pod["serviceAccountName"] = service_account
    assert job == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "t1-shop-1-task-001-b1fe2c7cb5-a2",
            "namespace": "prazium",
            "labels": labels,
            "annotations": {
                "prazium.io/attempt": "2",
                "prazium.io/task-name": "shop-1-task-001",
                "prazium.io/run-name": "shop-1",
            },
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": 900,
            "ttlSecondsAfterFinished": 3600,
            # What the egress proxy reads to know the Pod (executor/sandboxing.py).
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "prazium.io/task-name": "shop-1-task-001",
                        "prazium.io/run-name": "shop-1",
                        "prazium.io/task-id": "task-001",
                        "prazium.io/attempt": "2",
                        "prazium.io/egress": "[]",
                    },
                },
                "spec": pod,
            },
        },
    }


@pytest.mark.parametrize(
    ("service_account", "timeout", "deadline"), [("v-sa", 300, 300), ("", 0, 1)]
)
def test_the_verification_job_manifest_whole(
    service_account: str, timeout: int, deadline: int
) -> None:
    settings = _settings(service_account)
    runner = verification.JobRunner(settings, "t1", "shop", "shop-1")
    job = verification.build_verification_job(
        settings, runner, runner.new_job_name(), ["python", "-m", "unittest"], timeout
    )
    name = job["metadata"].pop("name")
    # One prefix per run (a Job created ahead is found by it), a new suffix each time.
    assert re.fullmatch(r"verify-[0-9a-f]{10}-[0-9a-f]{6}", name), name
    assert name.startswith(runner.job_prefix())
    work = "workspaces/t1/shop/shop-1/verify"
    labels = {
        **LABELS,
        "app.kubernetes.io/managed-by": "prazium",
        "prazium.io/role": "verification",
    }
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 3,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": POD_SECURITY,
        "containers": [
            {
                "name": "verify",
                "image": "prazium/worker:test",
                "imagePullPolicy": "IfNotPresent",
                "command": [
                    # The tests start on the go signal, once the merged tree is there.
                    "python",
                    "-m",
                    "prazium_operator.worker.waiting",
                    "--go",
                    f"/data/{work}/start.go",
                    # ... and once the Pod's NetworkPolicy is in force.
                    "--policy-gate",
                    "20",
                    "--",
                    "bash",
                    "-c",
                    'out=$1; cd "$2" || exit 125; shift 2; "$@" >"$out" 2>&1',
                    "verify",
                    f"/data/{work}/output.log",
                    f"/data/{work}/tree",
                    "python",
                    "-m",
                    "unittest",
                ],
                # No platform credential and no tenant Secret: the tests are untrusted.
                "env": [
                    {"name": "HOME", "value": "/tmp"},
                    {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
                ],
                "resources": RESOURCES,
                "securityContext": CONTAINER_SECURITY,
                "volumeMounts": [_repo_mount(work), {"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": VOLUMES,
        "tolerations": TOLERATIONS,
    }
    if service_account:
        pod["serviceAccountName"] = service_account
    assert job == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"namespace": "prazium", "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": deadline,
            "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def test_both_jobs_keep_off_the_nodes_they_are_told_to_avoid() -> None:
    settings = Settings(data_dir=Path("/data"), node_toleration_seconds=7)
    owner = {"metadata": {"name": "shop-1-task-001", "uid": "u-1"}}
    runner = verification.JobRunner(settings, "t1", "shop", "shop-1")
    avoid = ["node-b", "node-c"]
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [
                    {
                        "matchFields": [
                            {"key": "metadata.name", "operator": "NotIn", "values": avoid}
                        ]
                    }
                ]
            }
        }
    }
    for job in (
        build_job(_request(None), owner, settings, avoid),
        verification.build_verification_job(
            settings, runner, "verify-x", ["true"], 5, avoid_nodes=avoid
        ),
    ):
        pod = job["spec"]["template"]["spec"]
        assert pod["affinity"] == affinity
        assert {t["tolerationSeconds"] for t in pod["tolerations"]} == {7}
    # Nothing to avoid: no affinity at all (the scheduler's choice is free).
    assert "affinity" not in build_job(_request(None), owner, settings)["spec"]["template"]["spec"]
