"""Fixtures over the real test stack that `make test` (scripts/test.sh) starts.

Integration tests never skip for want of services: without the stack they
fail and say how to run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from kubernetes import client, config

from tests.support.services import (
    ServiceProcess,
    Stack,
    kill_workers,
    start_api,
    start_operator,
    wait_for,
)


@pytest.fixture(scope="session")
def stack() -> Stack:
    kubeconfig = os.environ.get("PRAZIUM_TEST_KUBECONFIG")
    database_url = os.environ.get("PRAZIUM_TEST_DATABASE_URL")
    kubectl = os.environ.get("PRAZIUM_TEST_KUBECTL")
    if not (kubeconfig and database_url and kubectl):
        pytest.fail(
            "integration tests need the local control plane and PostgreSQL: run `make test`"
            " (or set PRAZIUM_TEST_KUBECONFIG, PRAZIUM_TEST_DATABASE_URL and"
            " PRAZIUM_TEST_KUBECTL)"
        )
    config.load_kube_config(config_file=kubeconfig)
    return Stack(kubeconfig=kubeconfig, database_url=database_url, kubectl=kubectl)


@pytest.fixture
def namespace(stack: Stack) -> Iterator[str]:
    """A fresh namespace (a tenant, labelled as prazium-admin labels one) for one test,
    deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api()
    labels = {"prazium.io/tenant": "true"}
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
    )
    yield name
    try:
        core.delete_namespace(name, propagation_policy="Background")
    except client.ApiException as exc:
        if exc.status not in (404, 409):  # the test deleted it already (gone or going)
            raise


@pytest.fixture
def db(stack: Stack) -> Iterator[psycopg.Connection]:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """This test's shared repo volume. Teardown kills any local worker still running
    on it (workers have their own session, so stopping an operator leaves them)."""
    path = tmp_path / "data"
    path.mkdir()
    yield path
    kill_workers(path)


@pytest.fixture
def operator(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    """The real operator process, watching this test's namespace only."""
    proc = start_operator(stack, data_dir, [namespace], tmp_path / "logs")
    # Ready when its heartbeat row is written.
    wait_for(lambda: _heartbeat_seen(stack.database_url, proc.pid), 30, "operator heartbeat", proc)
    yield proc
    proc.stop()
    kill_workers(data_dir)


@pytest.fixture
def api(stack: Stack, data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The real API served by uvicorn on a free loopback port; yields its base URL."""
    proc, base = start_api(stack, data_dir, tmp_path / "logs")
    yield base
    proc.stop()


def _heartbeat_seen(dsn: str, pid: int) -> bool:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
        ).fetchone()
    return row is not None


@pytest.fixture
def make_key(stack: Stack) -> Callable[..., str]:
    """make_key(tenant, tier="pro", admin=False) -> a new API key (pzm_...) in PostgreSQL."""
    from prazium_api.auth.keys import create_key

    def make(tenant: str, tier: str = "pro", admin: bool = False) -> str:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            return create_key(conn, tenant, tier, admin)[1]

    return make


@pytest.fixture
def api_key(make_key: Callable[..., str], namespace: str) -> str:
    """An enterprise-tier key for this test's namespace (no rate limit in the way)."""
    return make_key(namespace, "enterprise")


@pytest.fixture
def client_for(api: str) -> Iterator[Callable[[str], httpx.Client]]:
    """client_for(key): an httpx client for the API authenticated with key."""
    clients: list[httpx.Client] = []

    def make(key: str) -> httpx.Client:
        http = httpx.Client(
            base_url=f"{api}/v1", timeout=60, headers={"Authorization": f"Bearer {key}"}
        )
        clients.append(http)
        return http

    yield make
    for http in clients:
        http.close()


@pytest.fixture
def http(client_for: Callable[[str], httpx.Client], api_key: str) -> httpx.Client:
    """The API at /v1 with this test's namespace's key."""
    return client_for(api_key)
