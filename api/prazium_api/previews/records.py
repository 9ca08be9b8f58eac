"""Preview deployment records in PostgreSQL (table deployments): the SQL of the
deployment routes, which keep only the HTTP side."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from prazium_api.contract.responses import DeploymentState
from prazium_api.db import Database


@dataclass(frozen=True)
class DeploymentRecord:
    id: str
    provider: str
    status: DeploymentState
    url: str | None
    run: str  # the Run CR's name
    created_at: dt.datetime


def insert(
    database: Database,
    deployment_id: str,
    namespace: str,
    project: str,
    run: str,
    provider: str,
    url: str,
) -> None:
    with database.connection() as conn:
        conn.execute(
            "INSERT INTO deployments (id, namespace, project, run, provider, status, url)"
            " VALUES (%s, %s, %s, %s, %s, 'deploying', %s)",
            (deployment_id, namespace, project, run, provider, url),
        )


def mark_failed(database: Database, deployment_id: str, message: str) -> None:
    with database.connection() as conn:
        conn.execute(
            "UPDATE deployments SET status = 'failed', message = %s,"
            " updated_at = now() WHERE id = %s",
            (message, deployment_id),
        )


def find(
    database: Database, namespace: str, project: str, deployment_id: str
) -> DeploymentRecord | None:
    """The record of a project's deployment; None for unknown ids and for deployments
    of other projects or tenants."""
    with database.connection() as conn:
        row = conn.execute(
            "SELECT id, provider, status, url, run, created_at FROM deployments"
            " WHERE id = %s AND namespace = %s AND project = %s",
            (deployment_id, namespace, project),
        ).fetchone()
    return None if row is None else DeploymentRecord(*row)


def set_status(database: Database, deployment_id: str, status: DeploymentState) -> None:
    with database.connection() as conn:
        conn.execute(
            "UPDATE deployments SET status = %s, updated_at = now() WHERE id = %s",
            (status, deployment_id),
        )


def set_url(database: Database, deployment_id: str, url: str) -> None:
    with database.connection() as conn:
        conn.execute(
            "UPDATE deployments SET url = %s, updated_at = now() WHERE id = %s",
            (url, deployment_id),
        )
