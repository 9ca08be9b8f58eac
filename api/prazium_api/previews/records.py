"""Preview deployment records in PostgreSQL (table deployments): the SQL of the
deployment routes and of the expiry sweep, which keep only the HTTP and Kubernetes
sides.

A record's life: "deploying" when made (with expires_at, deploy_ttl_seconds ahead),
then "live" or "failed" as its Deployment says, and "stopped" once someone claimed
its stop (a request, the sweep of an expired one, a failed one replaced). Claiming
is one UPDATE that only one caller wins; stopped_at is set after the objects are
gone, so a record "stopped" without stopped_at is a stop still to finish.
At most one unstopped record exists per run and provider (a unique index), which
is what makes deploying a run again answer the preview it has.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from prazium_api.contract.responses import DeploymentState, Page, Pagination
from prazium_api.db import Database

log = logging.getLogger(__name__)
_COLUMNS = (
    "id, namespace, project, run, provider, status, url, message, created_at,"
    " expires_at, stopped_at"
)


@dataclass(frozen=True)
class DeploymentRecord:
    id: str
    namespace: str
    project: str  # the Project CR's name
    run: str  # the Run CR's name
    provider: str
    status: DeploymentState
    url: str | None
    message: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    stopped_at: dt.datetime | None


@dataclass(frozen=True)
class NewDeployment:
    id: str
    namespace: str
    project: str
    run: str
    provider: str
    url: str
    ttl_seconds: int


def insert(database: Database, new: NewDeployment) -> bool:
    """A new "deploying" record; False when the run has an unstopped preview of that
    provider already (made meanwhile by another request: the unique index)."""
    try:
        with database.connection() as conn:
            conn.execute(
                "INSERT INTO deployments (id, namespace, project, run, provider, status, url,"
                " expires_at) VALUES (%s, %s, %s, %s, %s, 'deploying', %s,"
                " now() + make_interval(secs => %s))",
                (
                    new.id,
                    new.namespace,
                    new.project,
                    new.run,
                    new.provider,
                    new.url,
                    new.ttl_seconds,
                ),
            )
    except psycopg.errors.UniqueViolation:
        return False
    return True


def mark_failed(database: Database, deployment_id: str, message: str) -> None:
    with database.connection() as conn:
        conn.execute(
            "UPDATE deployments SET status = 'failed', message = %s,"
            " updated_at = now() WHERE id = %s AND status <> 'stopped'",
            (message, deployment_id),
        )


def find(
    database: Database, namespace: str, project: str, deployment_id: str
) -> DeploymentRecord | None:
    """The record of a project's deployment; None for unknown ids and for deployments
    of other projects or tenants."""
    with database.connection() as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM deployments WHERE id = %s AND namespace = %s AND project = %s",
            (deployment_id, namespace, project),
        ).fetchone()
    return None if row is None else DeploymentRecord(*row)


def unstopped_for_run(
    database: Database, namespace: str, project: str, run: str, provider: str
) -> DeploymentRecord | None:
    """The run's preview with that provider that is not stopped (at most one)."""
    with database.connection() as conn:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM deployments WHERE namespace = %s AND project = %s"
            " AND run = %s AND provider = %s AND status <> 'stopped'",
            (namespace, project, run, provider),
        ).fetchone()
    return None if row is None else DeploymentRecord(*row)


def page(
    database: Database,
    namespace: str,
    project: str,
    paging: Page,
    *,
    run: str | None = None,
    status: DeploymentState | None = None,
) -> tuple[list[DeploymentRecord], Pagination]:
    """A project's previews newest first, optionally of one run or in one status
    (the status as recorded: callers refresh what they show)."""
    where = "namespace = %s AND project = %s"
    params: list[object] = [namespace, project]
    if run is not None:
        where += " AND run = %s"
        params.append(run)
    if status is not None:
        where += " AND status = %s"
        params.append(status)
    offset = (paging.page - 1) * paging.page_size
    with database.connection() as conn:
        total_row = conn.execute(f"SELECT count(*) FROM deployments WHERE {where}", params)
        total = int((total_row.fetchone() or (0,))[0])
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM deployments WHERE {where}"
            " ORDER BY created_at DESC, id DESC LIMIT %s OFFSET %s",
            [*params, paging.page_size, offset],
        ).fetchall()
    pagination = Pagination(
        page=paging.page,
        pageSize=paging.page_size,
        total=total,
        totalPages=-(-total // paging.page_size),
    )
    return [DeploymentRecord(*row) for row in rows], pagination


def set_status(database: Database, deployment_id: str, status: DeploymentState) -> None:
    """Record what the Deployment says now; a stopped record stays stopped."""
    with database.connection() as conn:
        conn.execute(
            "UPDATE deployments SET status = %s, updated_at = now()"
            " WHERE id = %s AND status <> 'stopped'",
            (status, deployment_id),
        )


def set_url(database: Database, deployment_id: str, url: str) -> None:
    with database.connection() as conn:
        conn.execute(
            "UPDATE deployments SET url = %s, updated_at = now() WHERE id = %s",
            (url, deployment_id),
        )


def claim_stop(database: Database, deployment_id: str, message: str) -> bool:
    """Mark the record stopped; False when it was stopped already (someone else's
    claim, whose message stays)."""
    with database.connection() as conn:
        return bool(
            conn.execute(
                "UPDATE deployments SET status = 'stopped', message = %s, updated_at = now()"
                " WHERE id = %s AND status <> 'stopped'",
                (message, deployment_id),
            ).rowcount
        )


def mark_removed(database: Database, deployment_id: str) -> None:
    """The stopped preview's objects and data are gone."""
    with database.connection() as conn:
        conn.execute(
            "UPDATE deployments SET stopped_at = now(), updated_at = now()"
            " WHERE id = %s AND status = 'stopped' AND stopped_at IS NULL",
            (deployment_id,),
        )


def sweep(
    database: Database,
    remove: Callable[[DeploymentRecord], None],
    expired_message: Callable[[DeploymentRecord], str],
    limit: int = 50,
) -> list[str]:
    """Stop every expired preview and finish every stop cut short: each such record
    is locked (FOR UPDATE SKIP LOCKED, so replicas sweeping at once take disjoint
    rows and none waits), remove(record) deletes its objects, then the record is
    stopped and stamped in the same transaction. When remove raises, the
    transaction rolls back and the record stays for the next sweep. The ids done."""
    done: list[str] = []
    with database.connection() as conn, conn.transaction():
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM deployments WHERE stopped_at IS NULL"
            " AND (status = 'stopped' OR expires_at <= now())"
            " ORDER BY expires_at LIMIT %s FOR UPDATE SKIP LOCKED",
            (limit,),
        ).fetchall()
        for row in rows:
            record = DeploymentRecord(*row)
            try:
                remove(record)
            except Exception as exc:  # the apiserver may be down: the next sweep retries
                log.warning("could not remove preview %s: %s", record.id, exc)
                continue
            conn.execute(
                "UPDATE deployments SET status = 'stopped', stopped_at = now(),"
                " updated_at = now(),"
                " message = CASE WHEN status = 'stopped' THEN message ELSE %s END"
                " WHERE id = %s",
                (expired_message(record), record.id),
            )
            done.append(record.id)
    return done
