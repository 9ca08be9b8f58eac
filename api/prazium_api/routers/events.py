"""A run's events: list from the journal, and the live SSE stream (verbs/events.py)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Header, Query
from fastapi.responses import StreamingResponse

from prazium_api.contract.responses import Event, Ok, ok_list
from prazium_api.routers.deps import Caller, Db, Hub, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import events

router = ApiRouter(tags=["Events"])
After = Annotated[dt.datetime | None, Query(description="Events after this time")]
TypeFilter = Annotated[str | None, Query(description="Filter by event type")]
TaskFilter = Annotated[str | None, Query(description="Filter by task (task_001)")]
Limit = Annotated[int, Query(ge=1, le=1000, description="Max events to return")]
AfterId = Annotated[str | None, Query(description="Events after this id (evt_N)")]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]
Timestamps = Annotated[
    bool,
    Query(
        description="Extension (not in the contract): also put each event's createdAt"
        " in its data, as the list gives it (default: the contract's data, unchanged)"
    ),
]
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
    after: After = None,
    type: TypeFilter = None,
    taskId: TaskFilter = None,
    limit: Limit = 100,
    afterId: AfterId = None,
) -> Ok[list[Event]]:
    found = events.list_of_run(
        caller.tenant,
        projectId,
        runId,
        database,
        after=after,
        event_type=type,
        task_id=taskId,
        limit=limit,
        after_id=afterId,
    )
    return ok_list(Event, found)


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
    last_event_id: LastEventId = None,
    timestamps: Timestamps = False,
) -> StreamingResponse:
    keepalive = settings.sse_keepalive_seconds
    frames = await events.follow(
        caller.tenant, projectId, runId, last_event_id, hub, keepalive, database, timestamps
    )
    return StreamingResponse(
        frames,
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            "Connection": "keep-alive",
        },
    )
