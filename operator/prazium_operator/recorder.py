"""Journal writes for the operator and the worker: one short connection per event.

Events are infrequent (tens per run), so a connection per append keeps every
caller (threads, child processes, Jobs) free of shared connection state.
"""

from __future__ import annotations

import psycopg

from prazium_kit import journal
from prazium_kit.types import Obj


def dedup_key(
    namespace: str, run: str, task: str | None, event_type: str, extra: str | int | None = None
) -> str:
    """The natural key of an event that must appear once: ns/run/task/type[/extra]."""
    key = f"{namespace}/{run}/{task or '-'}/{event_type}"
    return key if extra is None else f"{key}/{extra}"


def record(
    dsn: str,
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
) -> int | None:
    """Append an event; with once (the default) it is deduplicated by its natural key
    (or by key, when several event types must share one slot)."""
    if key is None and once:
        key = dedup_key(namespace, run, task, event_type, extra)
    with psycopg.connect(dsn, autocommit=True) as conn:
        return journal.append(
            conn,
            namespace=namespace,
            project=project,
            run=run,
            event_type=event_type,
            payload=payload,
            task=task,
            dedup_key=key,
        )
