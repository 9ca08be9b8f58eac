"""Kept logs: a task attempt's output (read once, or followed while the attempt runs)
and a run's verification output, as text.

Served from the repo volume (prazium_kit.paths, prazium_kit.tasklogs), for the
caller's own tenant only: the run and task are looked up in the caller's namespace
first, so another tenant's ids answer 404 like ids that do not exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from prazium_api.cluster import lookup
from prazium_api.contract.errors import ApiError, not_found
from prazium_api.server import metrics
from prazium_api.settings import ApiSettings
from prazium_api.streams import logstream
from prazium_kit import paths, tasklogs
from prazium_kit.kinds import Run, Task


@dataclass(frozen=True)
class KeptLog:
    """A log to answer: its text (capped, its last lines when asked), the headers
    that say what it is, and while it is followed the stream that carries the text
    and then what is written after it."""

    text: bytes
    headers: dict[str, str]
    stream: AsyncIterator[bytes] | None = None


async def task_log(
    tenant: str,
    project_id: str,
    run_id: str,
    task_id: str,
    *,
    attempt: int | None,
    tail: int | None,
    follow: bool,
    settings: ApiSettings,
) -> KeptLog:
    """The latest attempt's log unless attempt is given; followed (follow) while that
    attempt runs."""
    run = await anyio.to_thread.run_sync(lookup.run, tenant, project_id, run_id)
    task = await anyio.to_thread.run_sync(lookup.task, tenant, run.name, task_id)
    attempts = int(task.status.attempts or 0)
    if attempts == 0:
        raise ApiError("NOT_FOUND", f"task {task_id} has no log yet (it has not started)")
    chosen = attempt or attempts
    if chosen > attempts:
        raise not_found(
            f"attempt {chosen} of task {task_id}", {"attempts": attempts, "attempt": chosen}
        )
    definition_id = task.spec.definition.id
    path = paths.task_log_path(settings.data_dir, tenant, run.name, definition_id, chosen)
    running = _attempt_running(task, chosen)
    kept, offset = await anyio.to_thread.run_sync(
        logstream.initial, path, settings.task_log_max_bytes, tail
    )
    if not running and not path.exists():
        raise not_found(f"the log of attempt {chosen} of task {task_id}")
    headers = logstream.headers(kept.truncated, chosen)
    text = logstream.text(kept.data)
    if not follow or not running:
        return KeptLog(text, headers)
    result = paths.result_path(settings.data_dir, tenant, run.name, definition_id, chosen)
    ended = _ended(tenant, run.name, task_id, chosen, result)
    return KeptLog(text, headers, _followed(text if kept.data else b"", path, offset, ended))


def _ended(
    tenant: str, run_name: str, task_id: str, attempt: int, result: Path
) -> Callable[[], bool]:
    """Whether a followed attempt has ended (asked from a thread, now and then): its
    result is written, or the Task moved on (another attempt, a final phase) or went."""

    def ended() -> bool:
        if result.exists():
            return True
        try:
            now = lookup.task(tenant, run_name, task_id)
        except ApiError:
            return True  # the Task (or its Run) is gone
        except Exception:  # the apiserver unreachable for now: ask again at the next check
            return False
        return not _attempt_running(now, attempt)

    return ended


async def _followed(
    first: bytes, path: Path, offset: int, ended: Callable[[], bool]
) -> AsyncIterator[bytes]:
    if first:
        yield first
    following = logstream.follow(path, offset, ended)
    async for chunk in metrics.tracked(metrics.LOG_FOLLOWERS, following):
        yield chunk


def _attempt_running(task: Task, attempt: int) -> bool:
    status = task.status
    return status.phase == "running" and int(status.attempts or 0) == attempt


def verification_log(
    tenant: str, project_id: str, run_id: str, tail: int | None, settings: ApiSettings
) -> KeptLog:
    run = lookup.run(tenant, project_id, run_id)
    path = paths.verification_log_path(settings.data_dir, tenant, run.name)
    kept = _verification_output(path, run, settings.task_log_max_bytes, tail)
    if kept is None:
        raise ApiError("NOT_FOUND", f"run {run_id} has no verification output yet")
    return KeptLog(logstream.text(kept.data), logstream.headers(kept.truncated))


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
