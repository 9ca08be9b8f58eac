"""A verified key's requests counted in this process and added to its shared
PostgreSQL window (ratelimit.py) in batches, off the request path, so a busy key
costs no database round trip per request.

Per key this replica keeps the window it is counting in, the window's count as
PostgreSQL last told it (every replica's requests up to then) and the requests it
counted since. The first request of a key in a window (and any request whose key
is looked up again) is counted in PostgreSQL at once and tells this replica the
count; the others are counted here and answered from known + counted here. A
background task adds what was counted here to PostgreSQL every flush_seconds -
sooner for a key that counted 1/EARLY_FLUSH_SHARE of its limit since - in one
statement for all keys, and each row it returns refreshes what this replica knows.

The bound: every replica checks a request against its own view, which lacks only
what the other replicas counted but have not flushed yet. So together the
replicas may admit more than a key's budget by at most what each counted since
its last flush: per replica, at most flush_seconds worth of that key's requests
and about 1/EARLY_FLUSH_SHARE of its limit (plus what arrives during one flush
round trip). With one replica the count is exact. flush_seconds 0 counts every
request in PostgreSQL (exact across replicas; one round trip per request).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass

from prazium_api.auth.ratelimit import WINDOW_SECONDS, Verdict, verdict
from prazium_api.db import Database

log = logging.getLogger(__name__)

EARLY_FLUSH_SHARE = 20  # flush a key early once it counted 1/20 of its limit here
# Every (key, window) at most once, so no row is updated twice by one statement.
FLUSH_SQL = (
    "INSERT INTO rate_limit_windows (key_id, window_start, count)"
    " SELECT * FROM unnest(%s::text[], %s::timestamptz[], %s::integer[])"
    " ON CONFLICT (key_id, window_start)"
    " DO UPDATE SET count = rate_limit_windows.count + excluded.count"
    " RETURNING key_id, window_start, count"
)


@dataclass
class _Window:
    start: dt.datetime  # PostgreSQL's window (its clock)
    end_epoch: float
    known: int  # the window's count in PostgreSQL, as last seen here
    sending: int = 0  # counted here, in a flush under way
    pending: int = 0  # counted here, not sent yet


class BatchedCounts:
    def __init__(self, database: Database, flush_seconds: float) -> None:
        self.database = database
        self.flush_seconds = flush_seconds
        self._windows: dict[str, _Window] = {}
        self._leftover: dict[tuple[str, dt.datetime], int] = defaultdict(int)
        self._clock_offset = 0.0  # PostgreSQL's clock minus this host's, in seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        """Counting here only while the flushing task runs (else every request is
        counted in PostgreSQL)."""
        return self._task is not None

    def start(self) -> None:
        if self.flush_seconds > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop flushing, after adding what is still counted here to PostgreSQL."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        try:
            await self.flush()
        except Exception as exc:  # the database is down: these counts are lost
            log.warning("rate limit flush at stop failed: %s", exc.__class__.__name__)

    def count(self, key_id: str, limit: int) -> Verdict | None:
        """Count one request of the key here; None when this replica has no current
        window for it (then count it in PostgreSQL and pass the result to synced)."""
        if not self.enabled:
            return None
        window = self._windows.get(key_id)
        now = time.time() + self._clock_offset
        if window is None or now >= window.end_epoch:
            return None
        window.pending += 1
        if window.pending >= max(1, limit // EARLY_FLUSH_SHARE):
            self._wake.set()
        end = window.end_epoch
        return Verdict(
            limit=limit,
            remaining=limit - (window.known + window.sending + window.pending),
            reset_epoch=int(end),
            retry_after=max(1, math.ceil(end - now)),
        )

    def synced(
        self, key_id: str, limit: int, count: int, start: dt.datetime, now: dt.datetime
    ) -> Verdict:
        """The verdict for a request PostgreSQL just counted (count includes it),
        remembered as this replica's view of the key's window."""
        if not self.enabled:
            return verdict(limit, count, start, now)
        self._clock_offset = now.timestamp() - time.time()
        window = self._windows.get(key_id)
        if window is not None and window.start != start:
            if window.pending:  # counted here in an earlier window: still sent, to it
                self._leftover[(key_id, window.start)] += window.pending
                self._wake.set()
            window = None
        if window is None:
            window = _Window(start, start.timestamp() + WINDOW_SECONDS, count)
            self._windows[key_id] = window
        else:
            window.known = max(window.known, count)
        return verdict(limit, window.known + window.sending + window.pending, start, now)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # database down (ApiError 503) or an error: kept
                log.warning("rate limit flush failed: %s", exc.__class__.__name__)
                await asyncio.sleep(self.flush_seconds)

    async def flush(self) -> None:
        """Add what was counted here to PostgreSQL (one statement) and refresh this
        replica's view of those keys' windows; on failure it is kept for the next."""
        batch = self._leftover
        self._leftover = defaultdict(int)
        now = time.time() + self._clock_offset
        for key_id, window in list(self._windows.items()):
            if window.pending:
                batch[(key_id, window.start)] += window.pending
                window.sending += window.pending
                window.pending = 0
            elif not window.sending and now >= window.end_epoch:
                del self._windows[key_id]  # an ended window with nothing left to send
        if not batch:
            return
        try:
            async with self.database.aconnection() as conn:
                cur = await conn.execute(
                    FLUSH_SQL,
                    (
                        [key for key, _ in batch],
                        [start for _, start in batch],
                        list(batch.values()),
                    ),
                )
                rows = await cur.fetchall()
        except BaseException:
            self._unsend(batch, sent=False)
            raise
        self._unsend(batch, sent=True)
        for key_id, start, count in rows:
            seen = self._windows.get(key_id)
            if seen is not None and seen.start == start:
                seen.known = max(seen.known, int(count))

    def _unsend(self, batch: dict[tuple[str, dt.datetime], int], sent: bool) -> None:
        """The batch is no longer under way: done, or (not sent) counted here again."""
        for (key_id, start), n in batch.items():
            window = self._windows.get(key_id)
            current = window is not None and window.start == start
            if current:
                assert window is not None
                window.sending = max(0, window.sending - n)
                if not sent:
                    window.pending += n
            elif not sent:
                self._leftover[(key_id, start)] += n
