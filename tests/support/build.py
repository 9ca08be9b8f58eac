"""Helpers for build tests and the bench: CR reads, waits, journal reads, git reads."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psycopg
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.services import ServiceProcess, Stack, wait_for

GROUP, VERSION = "prazium.io", "v1alpha1"
TERMINAL = {"succeeded", "failed", "cancelled"}


def api() -> client.CustomObjectsApi:
    return client.CustomObjectsApi()


def get(namespace: str, plural: str, name: str) -> dict[str, Any] | None:
    try:
        return dict(api().get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def create(
    namespace: str, plural: str, kind: str, name: str, spec: dict[str, Any]
) -> dict[str, Any]:
    return dict(
        api().create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            plural,
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": kind,
                "metadata": {"name": name},
                "spec": spec,
            },
        )
    )


def patch_spec(namespace: str, plural: str, name: str, spec: dict[str, Any]) -> int:
    """Merge-patch spec; return the new metadata.generation."""
    obj = api().patch_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, name, {"spec": spec}
    )
    return int(obj["metadata"]["generation"])


def kubectl_apply(stack: Stack, namespace: str, path: Path) -> None:
    subprocess.run(
        [
            stack.kubectl,
            "--kubeconfig",
            stack.kubeconfig,
            "-n",
            namespace,
            "apply",
            "-f",
            str(path),
        ],
        check=True,
        capture_output=True,
    )


def wait_observed(
    namespace: str,
    plural: str,
    name: str,
    generation: int,
    operator: ServiceProcess | None,
    timeout: float = 30,
) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        obj = get(namespace, plural, name)
        status = (obj or {}).get("status") or {}
        return obj if int(status.get("observedGeneration") or 0) >= generation else None

    return dict(
        wait_for(
            seen,
            timeout,
            f"{plural}/{name} to observe generation {generation}",
            operator,
            interval=0.1,
        )
    )


def wait_phase(
    namespace: str,
    plural: str,
    name: str,
    phases: set[str],
    operator: ServiceProcess | None,
    timeout: float = 90,
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        obj = get(namespace, plural, name)
        return obj if ((obj or {}).get("status") or {}).get("phase") in phases else None

    return dict(
        wait_for(
            reached, timeout, f"{plural}/{name} to reach {sorted(phases)}", operator, interval=0.1
        )
    )


def wait_run_done(
    namespace: str, name: str, operator: ServiceProcess | None, timeout: float = 120
) -> dict[str, Any]:
    return wait_phase(namespace, "runs", name, TERMINAL, operator, timeout)


def tasks_of(namespace: str, run: str) -> list[dict[str, Any]]:
    items = api().list_namespaced_custom_object(
        GROUP, VERSION, namespace, "tasks", label_selector=f"prazium.io/run={run}"
    )["items"]
    return sorted(items, key=lambda t: t["spec"]["sequence"])


def events(dsn: str, namespace: str, run: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, task, event_type, payload, created_at FROM events"
            " WHERE namespace = %s AND run = %s ORDER BY id",
            (namespace, run),
        ).fetchall()
    return [{"id": r[0], "task": r[1], "type": r[2], "payload": r[3], "at": r[4]} for r in rows]


def git(repo: str | Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def files_on(repo: str | Path, ref: str = "main") -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", ref).split())


FINAL_EVENTS = {"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"}


def wait_final_event(
    dsn: str, namespace: str, run: str, operator: ServiceProcess | None, timeout: float = 30
) -> list[dict[str, Any]]:
    """The run's journal once its final event is in (it is written after the final status)."""

    def final() -> list[dict[str, Any]] | None:
        journal = events(dsn, namespace, run)
        return journal if journal and journal[-1]["type"] in FINAL_EVENTS else None

    return list(wait_for(final, timeout, f"the final event of run {run}", operator, interval=0.1))
