"""Journal writes for the operator and the worker: one short connection per write.

Events are infrequent (tens per run), so a connection per write keeps every
caller (threads, child processes, Jobs) free of shared connection state.

A PostgreSQL outage is ridden out (issue 11): a write is retried with backoff and
jitter for a bounded window (settings.db_retry_seconds). Every event that must
appear once has a natural dedup key, so a retry, or the operator's replay of the
events a worker also kept in its result file (worker/main.py), never writes one
twice: ``INSERT ... ON CONFLICT (dedup_key) DO NOTHING``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg

from prazium_kit import journal
from prazium_kit.types import Obj
from prazium_operator import retrying

log = logging.getLogger("prazium.recorder")
# The key a worker's events travel under in its result file (beside WorkerResult's own).
RESULT_EVENTS_KEY = "journal"


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


def write(dsn: str, entries: Sequence[Obj], *, retry_seconds: float = 0.0) -> list[int | None]:
    """Append entries in order over one connection; the ids (None: already written).

    On an outage the whole batch is retried: the keyed entries written before the
    connection broke are skipped by their keys."""

    def attempt() -> list[int | None]:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            return [_append(conn, item) for item in entries]

    return retrying.call(
        attempt,
        window=retry_seconds,
        transient=retrying.database_outage,
        what=f"journal write of {len(entries)} event(s)",
    )


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
    """The events a worker kept in its result file (none in an older worker's file)."""
    items = (result_file or {}).get(RESULT_EVENTS_KEY) or []
    return [item for item in items if isinstance(item, dict) and item.get("key")]


class AttemptJournal:
    """A worker attempt's events: written to the journal while PostgreSQL answers, and
    every one also kept for the attempt's result file.

    A worker that cannot reach the database is not a lost worker: after one retry
    window it stops trying, carries on with its task, and the operator replays the
    kept events from the result file (keyed, so those already written are skipped)."""

    def __init__(self, dsn: str, retry_seconds: float) -> None:
        self.dsn, self.retry_seconds = dsn, retry_seconds
        self.entries: list[Obj] = []
        self.reachable = True

    def add(self, items: Sequence[Obj]) -> None:
        self.entries.extend(items)
        if not items or not self.reachable:
            return
        try:
            write(self.dsn, items, retry_seconds=self.retry_seconds)
        except psycopg.Error as exc:
            self.reachable = False
            log.warning(
                "journal unreachable (%s: %s); the events go to the result file for"
                " the operator to replay",
                type(exc).__name__,
                exc,
            )

    def into(self, result_file: Obj) -> Obj:
        """The result file's content with the attempt's events added."""
        return {**result_file, RESULT_EVENTS_KEY: list(self.entries)}
