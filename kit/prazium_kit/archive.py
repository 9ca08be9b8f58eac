"""The run archive in PostgreSQL (migration 002): finished Runs and their Tasks as they
finished, so a Run pruned from the cluster stays readable through the API.

The operator writes (archive_run when a Run finishes and again just before it is
pruned); the API reads (a pruned Run, its Tasks, a project's run list merged with
the live Runs). Bodies are the custom resources without metadata.managedFields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from prazium_kit.types import Obj


def _stripped(obj: Obj) -> Obj:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def _time(text: Any) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def archive_run(conn: psycopg.Connection[Any], run: Obj, tasks: Iterable[Obj]) -> None:
    """Upsert a Run and its Tasks (in one transaction): the newest copy wins."""
    meta, status = run["metadata"], run.get("status") or {}
    namespace, name = meta["namespace"], meta["name"]
    with conn.transaction():
        conn.execute(
            "INSERT INTO run_archive (namespace, run, project, run_number, phase, created_at,"
            " completed_at, body) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (namespace, run) DO UPDATE SET run_number = EXCLUDED.run_number,"
            " phase = EXCLUDED.phase, completed_at = EXCLUDED.completed_at,"
            " body = EXCLUDED.body, archived_at = now()",
            (
                namespace,
                name,
                (run.get("spec") or {}).get("projectRef", {}).get("name", ""),
                status.get("runNumber"),
                status.get("phase") or "pending",
                _time(meta.get("creationTimestamp")),
                _time(status.get("completedAt")),
                Jsonb(_stripped(run)),
            ),
        )
        for task in tasks:
            conn.execute(
                "INSERT INTO task_archive (namespace, run, task, sequence, body)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (namespace, run, task)"
                " DO UPDATE SET sequence = EXCLUDED.sequence, body = EXCLUDED.body",
                (
                    namespace,
                    name,
                    task["metadata"]["name"],
                    (task.get("spec") or {}).get("sequence"),
                    Jsonb(_stripped(task)),
                ),
            )


def project_usage(conn: psycopg.Connection[Any], namespace: str, project: str) -> list[Obj]:
    """status.usage of each archived Run of a project that has one (every finished Run
    is archived, pruned ones included)."""
    rows = conn.execute(
        "SELECT body->'status'->'usage' FROM run_archive WHERE namespace = %s"
        " AND project = %s AND body->'status'->'usage' IS NOT NULL",
        (namespace, project),
    ).fetchall()
    return [dict(row[0]) for row in rows if isinstance(row[0], dict)]


def mark_pruned(conn: psycopg.Connection[Any], namespace: str, run: str) -> None:
    conn.execute(
        "UPDATE run_archive SET pruned_at = now() WHERE namespace = %s AND run = %s",
        (namespace, run),
    )


def get_run(conn: psycopg.Connection[Any], namespace: str, run: str) -> Obj | None:
    row = conn.execute(
        "SELECT body FROM run_archive WHERE namespace = %s AND run = %s", (namespace, run)
    ).fetchone()
    return dict(row[0]) if row else None


def get_tasks(conn: psycopg.Connection[Any], namespace: str, run: str) -> list[Obj]:
    rows = conn.execute(
        "SELECT body FROM task_archive WHERE namespace = %s AND run = %s ORDER BY sequence, task",
        (namespace, run),
    ).fetchall()
    return [dict(row[0]) for row in rows]


@dataclass(frozen=True)
class RunKey:
    """What ordering and filtering a project's run list needs, without the body."""

    name: str
    run_number: int
    created_at: str


def run_keys(
    conn: psycopg.Connection[Any], namespace: str, project: str, phase: str | None = None
) -> list[RunKey]:
    sql = (
        "SELECT run, coalesce(run_number, 0),"
        " coalesce(to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"
        " FROM run_archive WHERE namespace = %s AND project = %s"
    )
    params: list[Any] = [namespace, project]
    if phase is not None:
        sql += " AND phase = %s"
        params.append(phase)
    rows = conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
    return [RunKey(str(r[0]), int(r[1]), str(r[2])) for r in rows]


def get_runs(conn: psycopg.Connection[Any], namespace: str, names: Sequence[str]) -> list[Obj]:
    if not names:
        return []
    rows = conn.execute(
        "SELECT body FROM run_archive WHERE namespace = %s AND run = ANY(%s)",
        (namespace, list(names)),
    ).fetchall()
    return [dict(row[0]) for row in rows]


def expire(conn: psycopg.Connection[Any], older_than: dt.datetime) -> tuple[int, int]:
    """Journal retention: delete events, and archived runs that were pruned from the
    cluster, older than older_than; (events, runs) deleted."""
    events = conn.execute("DELETE FROM events WHERE created_at < %s", (older_than,)).rowcount
    runs = conn.execute(
        "DELETE FROM run_archive WHERE pruned_at IS NOT NULL AND completed_at < %s",
        (older_than,),
    ).rowcount
    return events, runs
