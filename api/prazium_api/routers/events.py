"""A run's events: list from the journal, and the live SSE stream."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Header, Query
from fastapi.responses import StreamingResponse

from prazium_api.cluster import lookup
from prazium_api.contract.errors import invalid
from prazium_api.contract.responses import Event, Ok, ok_list
from prazium_api.routers.deps import Caller, Db, Hub, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.streams import events
from prazium_kit import ids, journal

router = ApiRouter(tags=["Events"])
SSE_EXAMPLE = 'id: evt_7\nevent: TASK_STARTED\ndata: {"taskId":"task_001","slug":"ui-shell"}\n\n'


@router.get(
    "/projects/{projectId}/runs/{runId}/events",
    summary="List a run's events",
    operation_id="listEvents",
    response_model=Ok[list[Event]],
)
def list_events(
    projectId: str,
    runId: str,
    caller: Caller,
    database: Db,
    after: Annotated[dt.datetime | None, Query(description="Events after this time")] = None,
    type: Annotated[str | None, Query(description="Filter by event type")] = None,
    taskId: Annotated[str | None, Query(description="Filter by task (task_001)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Max events to return")] = 100,
    afterId: Annotated[str | None, Query(description="Events after this id (evt_N)")] = None,
) -> Ok[list[Event]]:
    if type is not None and type not in journal.EVENT_TYPES:
        raise invalid(f"unknown event type {type!r}", "type", allowed=sorted(journal.EVENT_TYPES))
    task: str | None = None
    if taskId is not None:
        try:
            task = ids.task_definition_id(taskId)
        except ids.InvalidId as exc:
            raise invalid(str(exc), "taskId") from exc
    if after is not None and after.tzinfo is None:
        after = after.replace(tzinfo=dt.UTC)
    run = lookup.run(caller.tenant, projectId, runId, database)
    with database.connection() as conn:
        rows = journal.list_events(
            conn,
            namespace=caller.tenant,
            run=run.name,
            after_id=events.parse_event_id(afterId, "afterId"),
            after_time=after,
            event_type=type,
            task=task,
            limit=limit,
        )
    return ok_list(Event, [events.list_item(e) for e in rows])


@router.get(
    "/projects/{projectId}/runs/{runId}/events/stream",
    summary="Stream a run's events (SSE); resumes after Last-Event-ID",
    operation_id="streamEvents",
    response_class=StreamingResponse,
    response_model=None,
    responses={
        200: {
            "description": "Server-sent events: `id: evt_N`, `event: <eventType>`, `data: <JSON>`"
            " per journal event; `: keep-alive` comments while the run is quiet;"
            " the stream ends after the run's final event (at once when"
            " Last-Event-ID is that event or later).",
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "example": SSE_EXAMPLE}
            },
        }
    },
)
async def stream_events(
    projectId: str,
    runId: str,
    caller: Caller,
    hub: Hub,
    settings: Settings,
    database: Db,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    after_id = events.parse_event_id(last_event_id, "Last-Event-ID")
    run = await anyio.to_thread.run_sync(lookup.run, caller.tenant, projectId, runId, database)
    key = (caller.tenant, run.name)
    keepalive = settings.sse_keepalive_seconds

    async def frames() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        # A subscriber that fell behind gets what it missed in one write, not one each.
        async for batch in hub.follow_batches(key, after_id, keepalive):
            if batch is None:
                yield b": keep-alive\n\n"
            else:
                yield b"".join([events.frames.frame(event) for event in batch])

    return StreamingResponse(
        frames(),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "Connection": "keep-alive",
        },
    )
