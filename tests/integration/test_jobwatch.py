"""The job namespace's watches (executor/jobwatch.py) against the apiserver: a Job the
operator labels, and the Pod the Job controller makes for it, are seen without a read
of either; a change and a deletion arrive; what is not Prazium's is not held; an
unsynced or stopped watch answers None (the caller reads the apiserver)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from kubernetes import client

from prazium_kit import kube
from prazium_operator.executor import jobwatch
from tests.support.services import Stack, wait_for

pytestmark = pytest.mark.integration


def _job(name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Job whose Pod cannot start (no image is pulled): it stays as created."""
    container = {
        "name": "main",
        "image": "prazium/never-pulled:it",
        "imagePullPolicy": "Never",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": 1000,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }


def test_a_prazium_job_and_its_pod_are_watched_changed_and_deleted(
    stack: Stack, namespace: str
) -> None:
    batch: Any = client.BatchV1Api()  # takes the Jobs as dicts
    watched = jobwatch.JobWatch(namespace)
    ours, other = f"ours-{uuid.uuid4().hex[:6]}", f"other-{uuid.uuid4().hex[:6]}"
    assert watched.job(ours) is None and watched.pods_of(ours) is None  # not listed yet
    batch.create_namespaced_job(namespace, _job(ours, {kube.LABEL_MANAGED_BY: "prazium"}))
    watched.start()
    try:
        job = wait_for(lambda: watched.job(ours), 30, "the Job as listed")
        assert job.metadata.name == ours
        # Created after the list: arrives by the watch.
        batch.create_namespaced_job(namespace, _job(other, {"app": "not-prazium"}))
        pods = wait_for(lambda: watched.pods_of(ours), 60, "the Job controller's Pod")
        assert [p.metadata.labels[jobwatch.LABEL_JOB_NAME] for p in pods] == [ours]
        batch.patch_namespaced_job(ours, namespace, {"metadata": {"annotations": {"seen": "1"}}})
        wait_for(
            lambda: (watched.job(ours).metadata.annotations or {}).get("seen") == "1",
            30,
            "the Job's change",
        )
        # Another's Job (and its Pod) is not held: None, for the caller to read.
        wait_for(
            lambda: (
                batch.read_namespaced_job(other, namespace).status.active
                or client.CoreV1Api().list_namespaced_pod(namespace, label_selector="app").items
            ),
            60,
            "the other Job's Pod",
        )
        assert watched.job(other) is None and watched.pods_of(other) == []
        batch.delete_namespaced_job(ours, namespace, propagation_policy="Background")
        wait_for(lambda: watched.job(ours) is None, 30, "the Job's deletion")
        wait_for(lambda: watched.pods_of(ours) == [], 60, "its Pod's deletion")
    finally:
        watched.stop()
    assert watched.job(other) is None and watched.pods_of(ours) is None
