"""The skeleton processes talk to the real control plane and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from kubernetes import client

from prazium_kit import db as prazium_db
from prazium_kit.kube import GROUP, VERSION
from tests.support.services import ServiceProcess, Stack, free_port, start_api, wait_for

pytestmark = pytest.mark.integration


def _get_project(namespace: str, name: str) -> dict:
    return client.CustomObjectsApi().get_namespaced_custom_object(
        GROUP, VERSION, namespace, "projects", name
    )


def test_operator_sets_phase_and_observed_generation(
    stack: Stack, namespace: str, operator: ServiceProcess
) -> None:
    client.CustomObjectsApi().create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "projects",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Project",
            "metadata": {"name": "notes"},
            "spec": {"displayName": "Notes", "description": "A notes app with tags and search"},
        },
    )
    project = wait_for(
        lambda: (p := _get_project(namespace, "notes")).get("status", {}).get("phase") and p,
        30,
        "the operator to set status.phase",
        operator,
    )
    assert project["status"]["phase"] in {"draft", "clarifying"}
    assert project["status"]["observedGeneration"] == project["metadata"]["generation"]


def test_health_is_200_with_every_component_healthy(
    stack: Stack, operator: ServiceProcess, api: str
) -> None:
    response = httpx.get(f"{api}/v1/health", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "healthy"
    assert body["components"] == {
        "kubernetes": "healthy",
        "database": "healthy",
        "operator": "healthy",
    }
    # The probe path answers the same.
    assert httpx.get(f"{api}/health", timeout=10).json()["components"] == body["components"]


def test_health_is_503_naming_the_database_when_it_is_unreachable(
    stack: Stack, data_dir: Path, tmp_path: Path
) -> None:
    dead_dsn = f"postgresql://prazium:x@127.0.0.1:{free_port()}/prazium"
    proc, base = start_api(stack, data_dir, tmp_path, PRAZIUM_DATABASE_URL=dead_dsn)
    try:
        response = httpx.get(f"{base}/v1/health", timeout=15)
    finally:
        proc.stop()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["components"]["database"] == "unhealthy"
    assert body["components"]["kubernetes"] == "healthy"
    # Anonymous callers get status words only (no host, port or driver error); the
    # reason is in the API's log for whoever runs it.
    assert "details" not in body and dead_dsn.split("@")[1] not in response.text
    assert "PostgreSQL" in proc.log_tail(200)


def test_health_is_503_naming_the_operator_when_none_beats(
    stack: Stack,
    db: psycopg.Connection,
    data_dir: Path,
    tmp_path: Path,
    namespace: str,
    make_key: Callable[..., str],
) -> None:
    # A stale heartbeat only: the operator count as down.
    db.execute("DELETE FROM operator_heartbeats")
    db.execute(
        "INSERT INTO operator_heartbeats (instance, executor, max_workers, last_seen)"
        " VALUES ('gone-1', 'local', 1, now() - interval '10 minutes')"
    )
    proc, base = start_api(stack, data_dir, tmp_path)
    admin = {"Authorization": f"Bearer {make_key(namespace, 'pro', admin=True)}"}
    try:
        response = httpx.get(f"{base}/v1/health", timeout=15, headers=admin)
        anonymous = httpx.get(f"{base}/v1/health", timeout=15)
    finally:
        proc.stop()
        db.execute("DELETE FROM operator_heartbeats WHERE instance = 'gone-1'")
    assert anonymous.status_code == 503 and "details" not in anonymous.json()
    assert response.status_code == 503
    body = response.json()
    assert body["components"] == {
        "kubernetes": "healthy",
        "database": "healthy",
        "operator": "unhealthy",
    }
    assert "no operator heartbeat" in body["details"]["operator"]


def test_health_is_503_naming_kubernetes_when_the_apiserver_is_unreachable(
    stack: Stack, data_dir: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "kubeconfig"
    bad.write_text(
        Path(stack.kubeconfig)
        .read_text()
        .replace(stack_server(stack), f"https://127.0.0.1:{free_port()}")
    )
    proc, base = start_api(stack, data_dir, tmp_path, PRAZIUM_KUBECONFIG=str(bad))
    try:
        response = httpx.get(f"{base}/v1/health", timeout=15)
    finally:
        proc.stop()
    assert response.status_code == 503
    assert response.json()["components"]["kubernetes"] == "unhealthy"


def stack_server(stack: Stack) -> str:
    for line in Path(stack.kubeconfig).read_text().splitlines():
        if line.strip().startswith("server:"):
            return line.split("server:", 1)[1].strip()
    raise AssertionError("no server in kubeconfig")


def test_migrations_are_recorded_and_idempotent(stack: Stack, db: psycopg.Connection) -> None:
    assert prazium_db.migrate(stack.database_url) == []
    versions = [r[0] for r in db.execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [v for v, _, _ in prazium_db.migration_files()]
