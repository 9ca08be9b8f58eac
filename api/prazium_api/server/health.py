"""Real checks of what the API depends on: the Kubernetes API, PostgreSQL, the operator."""

from __future__ import annotations

from typing import Literal

import psycopg
from kubernetes import client

HealthState = Literal["healthy", "unhealthy"]
HEALTHY: HealthState = "healthy"
UNHEALTHY: HealthState = "unhealthy"


def check_kubernetes() -> tuple[HealthState, str | None]:
    try:
        with client.ApiClient() as api:
            method, url, headers, body, _ = api.param_serialize(
                "GET", "/readyz", auth_settings=["BearerToken"]
            )
            response = api.call_api(method, url, headers, body, _request_timeout=3)
            response.read()
            text = response.data.decode("utf-8", "replace")
            status = response.status
    except Exception as exc:  # any failure to reach or read the apiserver is "unhealthy"
        return UNHEALTHY, f"kube-apiserver /readyz failed: {exc.__class__.__name__}: {exc}"[:300]
    if status == 200 and text.strip() == "ok":
        return HEALTHY, None
    return UNHEALTHY, f"kube-apiserver /readyz answered {status}: {text[:200]!r}"


def check_database(dsn: str) -> tuple[HealthState, str | None]:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1").fetchone()
    except psycopg.Error as exc:
        return UNHEALTHY, f"PostgreSQL: {exc.__class__.__name__}: {exc}".strip()[:300]
    return HEALTHY, None


def check_operator(dsn: str, stale_seconds: float) -> tuple[HealthState, str | None]:
    """The operator is up when some operator process renewed its heartbeat recently."""
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT count(*) FROM operator_heartbeats"
                " WHERE last_seen > now() - make_interval(secs => %s)",
                (stale_seconds,),
            ).fetchone()
    except psycopg.Error as exc:
        return UNHEALTHY, f"cannot read operator heartbeats: {exc.__class__.__name__}"
    live = int(row[0]) if row else 0
    if live == 0:
        return UNHEALTHY, f"no operator heartbeat in the last {stale_seconds:.0f} s"
    return HEALTHY, None
