"""Kept logs: a task attempt's output and a run's verification output, as text
(verbs/logs.py); a followed log is a chunked stream."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import Response, StreamingResponse

from prazium_api.routers.deps import Caller, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.streams import logstream
from prazium_api.verbs import logs

router = ApiRouter(tags=["Tasks"])
run_router = ApiRouter(tags=["Builds"])

_EXAMPLE = (
    '{"timestamp": "2026-11-29T01:02:03.456Z", "level": "INFO", "logger": "prazium.worker",'
    ' "message": "task task-001 attempt 1 started (coder template)", "task": "task-001",'
    ' "attempt": 1}\n'
)
_TRUNCATED = {
    "description": "true when the log was cut to its size cap (PRAZIUM_TASK_LOG_MAX_BYTES):"
    " the body then holds a line `[prazium: log truncated, N bytes omitted]` between its"
    " start and its end",
    "schema": {"type": "string", "enum": ["true", "false"]},
}
_FOLLOWED_TRUNCATED = {
    **_TRUNCATED,
    "description": f"{_TRUNCATED['description']}. With follow=true: as the stream began"
    " (a log cut later carries the marker line in the stream).",
}
_TEXT = {"text/plain": {"schema": {"type": "string"}, "example": _EXAMPLE}}
TailParam = Annotated[
    int | None, Query(ge=1, le=1_000_000, description="Only the last N lines of the log")
]
AttemptParam = Annotated[
    int | None, Query(ge=1, le=1000, description="Attempt number (default: the latest)")
]
FollowParam = Annotated[
    bool, Query(description="Stream the log as it grows until the attempt ends")
]


@router.get(
    "/projects/{projectId}/runs/{runId}/tasks/{taskId}/logs",
    summary="Get a task attempt's log (text); follow it while the attempt runs",
    operation_id="getTaskLogs",
    response_class=Response,
    response_model=None,
    responses={
        200: {
            "description": "The attempt's output as the worker wrote it (one line per log"
            " record: JSON, or text with PRAZIUM_LOG_FORMAT=text), capped at"
            " PRAZIUM_TASK_LOG_MAX_BYTES with a visible marker line. With follow=true a"
            " chunked stream that ends when the attempt ends (at once for an attempt"
            " that already ended).",
            "content": _TEXT,
            "headers": {
                "X-Prazium-Attempt": {
                    "description": "The attempt served (the latest unless ?attempt=)",
                    "schema": {"type": "integer"},
                },
                "X-Prazium-Log-Truncated": _FOLLOWED_TRUNCATED,
            },
        }
    },
)
async def get_task_logs(
    projectId: str,
    runId: str,
    taskId: str,
    caller: Caller,
    settings: Settings,
    attempt: AttemptParam = None,
    tail: TailParam = None,
    follow: FollowParam = False,
) -> Response:
    log = await logs.task_log(
        caller.tenant,
        projectId,
        runId,
        taskId,
        attempt=attempt,
        tail=tail,
        follow=follow,
        settings=settings,
    )
    if log.stream is None:
        return Response(log.text, media_type=logstream.MEDIA_TYPE, headers=log.headers)
    headers = {**log.headers, "X-Accel-Buffering": "no"}
    return StreamingResponse(log.stream, media_type=logstream.MEDIA_TYPE, headers=headers)


@run_router.get(
    "/projects/{projectId}/runs/{runId}/verification/logs",
    summary="Get a run's verification output (the generated app's tests), as text",
    operation_id="getVerificationLogs",
    response_class=Response,
    response_model=None,
    responses={
        200: {
            "description": "The verify command's output (stdout and stderr), capped at"
            " PRAZIUM_TASK_LOG_MAX_BYTES with a visible marker line; 404 until the run"
            " has verified.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "headers": {"X-Prazium-Log-Truncated": _TRUNCATED},
        }
    },
)
def get_verification_logs(
    projectId: str, runId: str, caller: Caller, settings: Settings, tail: TailParam = None
) -> Response:
    log = logs.verification_log(caller.tenant, projectId, runId, tail, settings)
    return Response(log.text, media_type=logstream.MEDIA_TYPE, headers=log.headers)
