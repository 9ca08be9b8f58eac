"""Kept logs: a task attempt's output and a run's verification output, as text.

Served from the repo volume (prazium_kit.paths, prazium_kit.tasklogs), for the
caller's own tenant only: the run and task are looked up in the caller's namespace
first, so another tenant's ids answer 404 like ids that do not exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import Query
from fastapi.responses import Response, StreamingResponse

from prazium_api.cluster import lookup
from prazium_api.contract.errors import ApiError, not_found
from prazium_api.routers.deps import Caller, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.server import metrics
from prazium_api.streams import logstream
from prazium_kit import paths, tasklogs
from prazium_kit.kinds import Run, Task

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


def _not_started(task_id: str) -> ApiError:
    return ApiError("NOT_FOUND", f"task {task_id} has no log yet (it has not started)")


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
    attempt: Annotated[
        int | None, Query(ge=1, le=1000, description="Attempt number (default: the latest)")
    ] = None,
    tail: TailParam = None,
    follow: Annotated[
        bool, Query(description="Stream the log as it grows until the attempt ends")
    ] = False,
) -> Response:
    tenant = caller.tenant
    run = await anyio.to_thread.run_sync(lookup.run, tenant, projectId, runId)
    run_name = run.name
    task = await anyio.to_thread.run_sync(lookup.task, tenant, run_name, taskId)
    attempts = int(task.status.attempts or 0)
    if attempts == 0:
        raise _not_started(taskId)
    chosen = attempt or attempts
    if chosen > attempts:
        raise not_found(
            f"attempt {chosen} of task {taskId}", {"attempts": attempts, "attempt": chosen}
        )
    definition_id = task.spec.definition.id
    path = paths.task_log_path(settings.data_dir, tenant, run_name, definition_id, chosen)
    running = _attempt_running(task, chosen)
    kept, offset = await anyio.to_thread.run_sync(
        logstream.initial, path, settings.task_log_max_bytes, tail
    )
    if not running and not path.exists():
        raise not_found(f"the log of attempt {chosen} of task {taskId}")
    head = logstream.headers(kept.truncated, chosen)
    if not follow or not running:
        return Response(logstream.text(kept.data), media_type=logstream.MEDIA_TYPE, headers=head)

    result = paths.result_path(settings.data_dir, tenant, run_name, definition_id, chosen)

    def ended() -> bool:
        if result.exists():
            return True
        try:
            now = lookup.task(tenant, run_name, taskId)
        except ApiError:
            return True  # the Task (or its Run) is gone
        except Exception:  # the apiserver unreachable for now: ask again at the next check
            return False
        return not _attempt_running(now, chosen)

    async def body() -> AsyncIterator[bytes]:
        if kept.data:
            yield logstream.text(kept.data)
        following = logstream.follow(path, offset, ended)
        async for chunk in metrics.tracked(metrics.LOG_FOLLOWERS, following):
            yield chunk

    return StreamingResponse(
        body(), media_type=logstream.MEDIA_TYPE, headers={**head, "X-Accel-Buffering": "no"}
    )


def _attempt_running(task: Task, attempt: int) -> bool:
    status = task.status
    return status.phase == "running" and int(status.attempts or 0) == attempt


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
    run = lookup.run(caller.tenant, projectId, runId)
    path = paths.verification_log_path(settings.data_dir, caller.tenant, run.name)
    kept = _verification_output(path, run, settings.task_log_max_bytes, tail)
    if kept is None:
        raise ApiError("NOT_FOUND", f"run {runId} has no verification output yet")
    return Response(
        logstream.text(kept.data),
        media_type=logstream.MEDIA_TYPE,
        headers=logstream.headers(kept.truncated),
    )


def _verification_output(
    path: Path, run: Run, max_bytes: int, tail: int | None
) -> tasklogs.LogText | None:
    try:
        return tasklogs.read(path, max_bytes, tail)
    except FileNotFoundError:
        pass
    # Runs verified before the output was kept in a file: the tail in their status.
    result = run.status.verification_result
    output = None if result is None else result.output_tail
    if output is None:
        return None
    data = output.encode()
    return tasklogs.LogText(
        data if tail is None else tasklogs.last_lines(data, tail), tasklogs.is_truncated(data)
    )
