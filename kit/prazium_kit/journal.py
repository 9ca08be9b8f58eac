"""The event journal in PostgreSQL: append once, read in order, follow live.

Ordering: ids come from a sequence, but two transactions can commit out of id
order, and a reader that saw id 7 would then never see 6. Appends to one run
take a transaction-scoped advisory lock on that run, so within a run ids commit
in order and "id > last seen" never skips a row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prazium_kit import metrics

if TYPE_CHECKING:  # imported where used: a worker reads this module's names, never writes
    import psycopg

NOTIFY_CHANNEL = "prazium_events"

# Stable event names; extend, never rename.
RUN_STARTED = "RUN_STARTED"
PLAN_CREATED = "PLAN_CREATED"
TASK_QUEUED = "TASK_QUEUED"
TASK_STARTED = "TASK_STARTED"
FILE_CREATED = "FILE_CREATED"
FILE_MODIFIED = "FILE_MODIFIED"
TASK_COMPLETED = "TASK_COMPLETED"
TASK_FAILED = "TASK_FAILED"
TASK_CANCELLED = "TASK_CANCELLED"
MERGE_STARTED = "MERGE_STARTED"
MERGE_COMPLETED = "MERGE_COMPLETED"
MERGE_CONFLICT = "MERGE_CONFLICT"
VERIFICATION_STARTED = "VERIFICATION_STARTED"
VERIFICATION_COMPLETED = "VERIFICATION_COMPLETED"
RUN_COMPLETED = "RUN_COMPLETED"
RUN_FAILED = "RUN_FAILED"
RUN_CANCELLED = "RUN_CANCELLED"
PUBLISH_COMPLETED = "PUBLISH_COMPLETED"
PUBLISH_FAILED = "PUBLISH_FAILED"
REPAIR_STARTED = "REPAIR_STARTED"
TASK_REUSED = "TASK_REUSED"
# One model request of a coding agent's attempt and its token usage (a worker's event).
AGENT_USAGE = "AGENT_USAGE"

EVENT_TYPES = frozenset(
    {
        RUN_STARTED,
        PLAN_CREATED,
        TASK_QUEUED,
        TASK_STARTED,
        FILE_CREATED,
        FILE_MODIFIED,
        TASK_COMPLETED,
        TASK_FAILED,
        TASK_CANCELLED,
        MERGE_STARTED,
        MERGE_COMPLETED,
        MERGE_CONFLICT,
        VERIFICATION_STARTED,
        VERIFICATION_COMPLETED,
        RUN_COMPLETED,
        RUN_FAILED,
        RUN_CANCELLED,
        PUBLISH_COMPLETED,
        PUBLISH_FAILED,
        REPAIR_STARTED,
        TASK_REUSED,
        AGENT_USAGE,
    }
)
# After one of these, a run's stream has nothing more to say.
FINAL_EVENT_TYPES = frozenset({RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED})


@dataclass(frozen=True)
class Event:
    id: int
    namespace: str
    project: str
    run: str
    task: str | None
    event_type: str
    payload: dict[str, Any]
    created_at: dt.datetime


@metrics.timed_journal_append
def append(
    conn: psycopg.Connection[Any],
    *,
    namespace: str,
    project: str,
    run: str,
    event_type: str,
    payload: dict[str, Any] | None = None,
    task: str | None = None,
    dedup_key: str | None = None,
) -> int | None:
    """Append one event; return its id, or None when dedup_key was already written.

    Commits on its own (the advisory lock is released at commit), so call it
    with a connection that has no transaction of its own open.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{namespace}/{run}",))
        row = conn.execute(
            "INSERT INTO events (namespace, project, run, task, event_type, payload, dedup_key)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
            (namespace, project, run, task, event_type, _jsonb(payload or {}), dedup_key),
        ).fetchone()
    return int(row[0]) if row else None


def list_events(
    conn: psycopg.Connection[Any],
    *,
    namespace: str,
    run: str,
    after_id: int = 0,
    after_time: dt.datetime | None = None,
    event_type: str | None = None,
    task: str | None = None,
    limit: int = 100,
) -> list[Event]:
    """Events of one run in id order, filtered as the API's list route allows."""
    clauses = ["namespace = %s", "run = %s", "id > %s"]
    params: list[Any] = [namespace, run, after_id]
    if after_time is not None:
        clauses.append("created_at > %s")
        params.append(after_time)
    if event_type is not None:
        clauses.append("event_type = %s")
        params.append(event_type)
    if task is not None:
        clauses.append("task = %s")
        params.append(task)
    params.append(limit)
    sql = (
        "SELECT id, namespace, project, run, task, event_type, payload, created_at"
        f" FROM events WHERE {' AND '.join(clauses)} ORDER BY id LIMIT %s"
    )
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()  # type: ignore[arg-type]
    return [Event(**row) for row in rows]


def _jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value)
