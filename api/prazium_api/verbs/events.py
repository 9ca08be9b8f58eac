"""A run's events: listed from the journal (filtered), or followed live (SSE)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import anyio

from prazium_api.cluster import lookup
from prazium_api.contract.errors import invalid
from prazium_api.contract.responses import Event
from prazium_api.db import Database
from prazium_api.streams import events as journal_events
from prazium_api.streams.follower import JournalHub
from prazium_kit import ids, journal


def list_of_run(
    tenant: str,
    project_id: str,
    run_id: str,
    database: Database,
    *,
    after: dt.datetime | None,
    event_type: str | None,
    task_id: str | None,
    limit: int,
    after_id: str | None,
) -> list[Event]:
    """Events in journal order after a time and/or an id (evt_N), of one type or one
    task; a time without a zone is UTC."""
    if event_type is not None and event_type not in journal.EVENT_TYPES:
        raise invalid(
            f"unknown event type {event_type!r}", "type", allowed=sorted(journal.EVENT_TYPES)
        )
    task: str | None = None
    if task_id is not None:
        try:
            task = ids.task_definition_id(task_id)
        except ids.InvalidId as exc:
            raise invalid(str(exc), "taskId") from exc
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=dt.UTC)
    run = lookup.run(tenant, project_id, run_id, database)
    with database.connection() as conn:
        rows = journal.list_events(
            conn,
            namespace=tenant,
            run=run.name,
            after_id=journal_events.parse_event_id(after_id, "afterId"),
            after_time=after,
            event_type=event_type,
            task=task,
            limit=limit,
        )
    return [journal_events.list_item(e) for e in rows]


async def follow(
    tenant: str,
    project_id: str,
    run_id: str,
    last_event_id: str | None,
    hub: JournalHub,
    keepalive: float,
    database: Database,
    timestamps: bool = False,
) -> AsyncIterator[bytes]:
    """The SSE body of the run's events after last_event_id (live or archived run),
    with each event's createdAt in its data when timestamps; the id and the run are
    checked before the stream starts."""
    after_id = journal_events.parse_event_id(last_event_id, "Last-Event-ID")
    run = await anyio.to_thread.run_sync(lookup.run, tenant, project_id, run_id, database)
    return journal_events.sse_stream(hub, (tenant, run.name), after_id, keepalive, timestamps)
