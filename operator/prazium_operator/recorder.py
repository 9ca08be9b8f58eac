"""Journal writes for the operator and the worker.

The operator writes over a small pool of kept connections (one per database URL,
shared by the run drivers' threads): with hundreds of runs at once, a connection
and its authentication per event cost more than the event. Workers never
connect: they append their events to a file on the volume that the operator checks
and ingests (AttemptJournal, worker_events).

A short PostgreSQL outage must not fail runs or lose events: a write is retried with
backoff and jitter for a bounded window (settings.db_retry_seconds). Every event that must
appear once has a natural dedup key, so a retry, or the operator's replay of the
events a worker also kept in its result file (worker/main.py), never writes one
twice: ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING``. A pooled connection is
checked before each write, so one that died with the server is replaced, and a pool
that cannot connect fails the attempt (PoolTimeout is an OperationalError) to be
retried like a refused connection.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prazium_kit import ids, journal
from prazium_kit.types import Obj
from prazium_operator import retrying

if TYPE_CHECKING:  # imported where used: a worker writes files, it never connects
    import psycopg
    from psycopg_pool import ConnectionPool

log = logging.getLogger("prazium.recorder")
# The key a worker's events travel under in its result file (beside WorkerResult's own).
RESULT_EVENTS_KEY = "journal"
# Bounds on what the operator reads of a worker's event file (written by untrusted code's
# neighbour, so never trusted to be small).
MAX_EVENT_FILE_BYTES = 4 * 1024 * 1024
MAX_WORKER_EVENTS = 5000
MAX_PATH_CHARS = 1024
# The journal's kept connections: writes are short (an INSERT or a few), so a few
# connections serve hundreds of runs; a writer waits at most ACQUIRE_SECONDS for one
# (then the write is retried as in an outage).
POOL_SIZE = 4
CONNECT_SECONDS = 5
ACQUIRE_SECONDS = 10.0
_pools: dict[str, ConnectionPool[Any]] = {}
_pools_lock = threading.Lock()


def dedup_key(
    namespace: str, run: str, task: str | None, event_type: str, extra: str | int | None = None
) -> str:
    """The natural key of an event that must appear once: ns/run/task/type[/extra]."""
    key = f"{namespace}/{run}/{task or '-'}/{event_type}"
    return key if extra is None else f"{key}/{extra}"


def entry(
    *,
    namespace: str,
    project: str,
    run: str,
    event_type: str,
    payload: Obj | None = None,
    task: str | None = None,
    once: bool = True,
    extra: str | int | None = None,
    key: str | None = None,
) -> Obj:
    """One event as plain JSON (what a worker's result file carries), keyed when once."""
    if key is None and once:
        key = dedup_key(namespace, run, task, event_type, extra)
    return {
        "namespace": namespace,
        "project": project,
        "run": run,
        "task": task,
        "type": event_type,
        "payload": payload or {},
        "key": key,
    }


def write(
    dsn: str, entries: Sequence[Obj], *, retry_seconds: float = 0.0, together: bool = False
) -> list[int | None]:
    """Append entries in order over one connection; the ids (None: already written).

    together: in one transaction, so they are written at one instant (created_at is
    the transaction's time) or not at all; for a step's few events (a task's completion
    with its dependents' queueing). journal.append's per-run lock is then held until
    the commit, so the run's events still commit in id order.

    On an outage the whole batch is retried: the keyed entries written before the
    connection broke are skipped by their keys."""

    def attempt() -> list[int | None]:
        with _pool(dsn).connection() as conn:
            if together and len(entries) > 1:
                with conn.transaction():
                    return [_append(conn, item) for item in entries]
            return [_append(conn, item) for item in entries]

    return retrying.call(
        attempt,
        window=retry_seconds,
        transient=retrying.database_outage,
        what=f"journal write of {len(entries)} event(s)",
    )


def _pool(dsn: str) -> ConnectionPool[Any]:
    from psycopg_pool import ConnectionPool

    with _pools_lock:
        pool = _pools.get(dsn)
        if pool is None:
            pool = ConnectionPool(
                dsn,
                min_size=1,
                max_size=POOL_SIZE,
                kwargs={"autocommit": True, "connect_timeout": CONNECT_SECONDS},
                timeout=ACQUIRE_SECONDS,
                open=False,
                name="prazium-journal",
                check=ConnectionPool.check_connection,
            )
            pool.open(wait=False)
            _pools[dsn] = pool
        return pool


def close_pools() -> None:
    """Close the kept connections (the operator is exiting)."""
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


def _append(conn: psycopg.Connection[Any], item: Obj) -> int | None:
    return journal.append(
        conn,
        namespace=item["namespace"],
        project=item["project"],
        run=item["run"],
        event_type=item["type"],
        payload=item["payload"],
        task=item["task"],
        dedup_key=item["key"],
    )


def result_events(result_file: Obj | None) -> list[Obj]:
    """The events a worker kept in its result file (none in an older worker's file).

    As the worker wrote them: untrusted (see worker_events) until checked."""
    items = (result_file or {}).get(RESULT_EVENTS_KEY) or []
    return [item for item in items if isinstance(item, dict) and item.get("key")]


def events_path(result_path: Path) -> Path:
    """The attempt's event file: one JSON event per line, appended while it runs."""
    return result_path.with_suffix(".events.jsonl")


def read_event_file(path: Path) -> list[Obj]:
    """The events a worker appended so far (a torn last line is skipped: it is
    written again whole in the result file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:  # missing, or a symlink planted beside the worker
        return []
    with os.fdopen(fd, "rb") as handle:
        try:
            raw = handle.read(MAX_EVENT_FILE_BYTES)
        except OSError:
            return []
    items: list[Obj] = []
    for line in raw.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            items.append(item)
    return items


def worker_events(items: Sequence[Obj], expected: WorkerIdentity) -> list[Obj]:
    """The events of a worker's file that may enter the journal, rebuilt by the operator.

    The worker's files are written where untrusted code runs (the `command` coder shares
    the worker's Pod and uid), so nothing in them is taken on trust: only the event
    types a worker emits, always for its own task and attempt, with the payload rebuilt
    from checked fields and the dedup key computed here. A forged line can at most add
    a file event to its own task."""
    accepted: list[Obj] = []
    for item in list(items)[:MAX_WORKER_EVENTS]:
        if not isinstance(item, dict):
            continue
        event_type = item.get("type")
        payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
        assert isinstance(payload, dict)
        if event_type == journal.TASK_STARTED:
            extra: str | int = expected.attempt
            clean: Obj = {
                "taskId": ids.task_id(expected.task),
                "slug": expected.slug,
                "attempt": expected.attempt,
                "branch": expected.branch,
            }
        elif event_type in (journal.FILE_CREATED, journal.FILE_MODIFIED):
            path, size = payload.get("path"), payload.get("size")
            if not isinstance(path, str) or not path or len(path) > MAX_PATH_CHARS:
                continue
            extra = path
            clean = {
                "taskId": ids.task_id(expected.task),
                "path": path,
                "size": size if isinstance(size, int) and size >= 0 else 0,
            }
        elif event_type == journal.AGENT_USAGE:
            usage = usage_payload(payload, expected)
            if usage is None:
                continue
            clean, extra = usage, f"{expected.attempt}/{usage['request']}"
        else:
            continue
        accepted.append(
            entry(
                namespace=expected.namespace,
                project=expected.project,
                run=expected.run,
                task=expected.task,
                event_type=str(event_type),
                extra=extra,
                payload=clean,
            )
        )
    return accepted


# What an AGENT_USAGE payload may carry (worker/agent_attempt.py writes them): counts
# only, bounded, so a forged line can at most misstate its own attempt's usage.
USAGE_COUNTS = ("inputTokens", "outputTokens", "cachedInputTokens", "cacheWriteInputTokens")
MAX_USAGE_COUNT = 10**12
MAX_USAGE_NAME_CHARS = 200


def usage_payload(payload: Obj, expected: WorkerIdentity) -> Obj | None:
    """An AGENT_USAGE payload rebuilt from checked fields; None when it is unusable."""
    number = payload.get("request")
    if not (isinstance(number, int) and _count(number) and number >= 1):
        return None
    clean: Obj = {
        "taskId": ids.task_id(expected.task),
        "attempt": expected.attempt,
        "request": number,
    }
    for name in ("provider", "model"):
        value = payload.get(name)
        clean[name] = value[:MAX_USAGE_NAME_CHARS] if isinstance(value, str) else ""
    for name in USAGE_COUNTS:
        value = payload.get(name)
        clean[name] = value if _count(value) else 0
    return clean


def _count(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_USAGE_COUNT


@dataclass(frozen=True)
class WorkerIdentity:
    """Which task attempt a worker's event file may speak for (from the operator's request)."""

    namespace: str
    project: str
    run: str
    task: str
    attempt: int
    slug: str | None
    branch: str


class AttemptJournal:
    """A worker attempt's events: appended to the attempt's event file on the volume (the
    operator ingests it into the journal while the worker runs, and once more from the
    result file), and every one kept for the result file.

    The worker holds no database credentials (it runs beside untrusted code): the file
    is its only channel."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[Obj] = []

    def add(self, items: Sequence[Obj]) -> None:
        self.entries.extend(items)
        if not items:
            return
        lines = "".join(json.dumps(item, sort_keys=True) + "\n" for item in items)
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
        except OSError as exc:  # the result file still carries them
            log.warning("cannot append to the event file %s: %s", self.path, exc)

    def into(self, result_file: Obj) -> Obj:
        """The result file's content with the attempt's events added."""
        return {**result_file, RESULT_EVENTS_KEY: list(self.entries)}
