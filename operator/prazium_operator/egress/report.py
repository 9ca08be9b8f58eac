"""Blocked connections, told to the user: the Task's status.egress and the attempt's log.

The proxy only queues what it refused (never waits on the apiserver while a client
waits); a flush every second writes, per task, one status patch (guarded by the
Task's resourceVersion, so two operator replicas' flushes never overwrite each
other) and one log line per refused connection. Untrusted code can loop on refused
connections: the status keeps the first MAX_ENTRIES destinations with a count each,
the log at most MAX_LOG_LINES lines per attempt, and the queue drops what exceeds
MAX_PENDING between flushes (counted in blockedTotal all the same).

The log line goes to the attempt's kept log on the repo volume, appended beside the
worker's own output. That file lies in a directory the worker's Pod can write, so it
is opened without following a symlink and only when it is a regular file.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import stat
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from kubernetes.client.exceptions import ApiException

from prazium_kit import paths, resources
from prazium_kit.models import BlockedConnection, EgressStatus, TaskStatus, status_of
from prazium_operator.egress.workers import Worker

log = logging.getLogger(__name__)

MAX_ENTRIES = 50
MAX_LOG_LINES = 200
MAX_PENDING = 1000
FLUSH_SECONDS = 1.0
PATCH_ATTEMPTS = 5
FURTHER_NOT_LOGGED = "[prazium: egress blocked: further blocked connections are not logged]\n"


@dataclass(frozen=True)
class Refusal:
    worker: Worker
    host: str
    port: int
    time: str  # RFC 3339, UTC
    reason: str

    def log_line(self) -> str:
        return f"[prazium: egress blocked: {self.host}:{self.port} at {self.time}: {self.reason}]\n"


def merge(status: EgressStatus | None, refusals: list[Refusal], total: int) -> EgressStatus:
    """status with refusals added: one entry per destination (host, port), first
    MAX_ENTRIES destinations kept; total counts every refusal."""
    merged = (status or EgressStatus()).model_copy(deep=True)
    by_destination = {(e.host, e.port): e for e in merged.blocked}
    for refusal in refusals:
        entry = by_destination.get((refusal.host, refusal.port))
        if entry is not None:
            entry.count += 1
        elif len(merged.blocked) < MAX_ENTRIES:
            entry = BlockedConnection(
                host=refusal.host,
                port=refusal.port,
                time=refusal.time,
                count=1,
                attempt=refusal.worker.attempt,
                reason=refusal.reason,
            )
            merged.blocked.append(entry)
            by_destination[(refusal.host, refusal.port)] = entry
    merged.blocked_total += total
    return merged


class Reporter:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        # (tenant namespace, task CR) -> refusals kept for the flush, and all counted.
        self._pending: dict[tuple[str, str], list[Refusal]] = defaultdict(list)
        self._counted: dict[tuple[str, str], int] = defaultdict(int)
        self._queued = 0
        # (namespace, run, task id, attempt) -> log lines written.
        self._lines: dict[tuple[str, str, str, int], int] = defaultdict(int)

    def refused(self, refusal: Refusal) -> None:
        key = (refusal.worker.namespace, refusal.worker.task_name)
        with self._lock:
            self._counted[key] += 1
            if self._queued < MAX_PENDING:
                self._pending[key].append(refusal)
                self._queued += 1

    async def flush_forever(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_SECONDS)
            await self.flush()

    async def flush(self) -> None:
        with self._lock:
            pending, counted = dict(self._pending), dict(self._counted)
            self._pending.clear()
            self._counted.clear()
            self._queued = 0
        for key, total in counted.items():
            refusals = pending.get(key, [])
            await asyncio.to_thread(self._write_log, refusals)
            try:
                await asyncio.to_thread(self._patch_status, key, refusals, total)
            except Exception:  # a report lost must not stop the proxy
                log.exception("could not record blocked connections in Task %s/%s", *key)

    def _patch_status(self, key: tuple[str, str], refusals: list[Refusal], total: int) -> None:
        namespace, name = key
        for _ in range(PATCH_ATTEMPTS):
            task = resources.get(namespace, "tasks", name)
            if task is None:
                return
            current = status_of(task, TaskStatus).egress
            merged = merge(current, refusals, total)
            try:
                resources.patch_status_at(
                    namespace,
                    "tasks",
                    name,
                    task["metadata"]["resourceVersion"],
                    {"egress": merged.model_dump(by_alias=True, exclude_none=True)},
                )
                return
            except ApiException as exc:
                if not resources.is_conflict(exc):
                    raise
        log.warning("Task %s/%s kept changing: %d blocked connections not recorded", *key, total)

    def _write_log(self, refusals: list[Refusal]) -> None:
        by_attempt: dict[tuple[str, str, str, int], list[str]] = defaultdict(list)
        for refusal in refusals:
            w = refusal.worker
            by_attempt[(w.namespace, w.run, w.task_id, w.attempt)].append(refusal.log_line())
        for key, lines in by_attempt.items():
            room = MAX_LOG_LINES - self._lines[key]
            if room <= 0:
                continue
            kept = lines
            if len(lines) >= room:  # the last line the attempt's log gets says so
                kept = [*lines[: room - 1], FURTHER_NOT_LOGGED]
            self._lines[key] += len(kept)
            append_line(paths.task_log_path(self.data_dir, *key), "".join(kept))


def append_line(path: Path, text: str) -> None:
    """Append to a kept log: never through a symlink, never to anything but a regular
    file (the worker's Pod can write the directory)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ELOOP):
            log.warning("cannot append to %s: %s", path, exc)
        return
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.write(fd, text.encode())
    finally:
        os.close(fd)
