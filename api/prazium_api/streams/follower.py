"""Follow a run's journal live: LISTEN/NOTIFY wakes, the journal is the truth.

One LISTEN connection per API process (JournalHub). A notification only says
"run R of namespace N has something new"; the run's RunFeed then reads the rows
after the last id it read - once, for all of that run's subscribers - and hands
them to each subscriber's queue. A subscriber registers with the feed *before*
replaying from the journal, so every row is either in its replay or in its
queue (duplicates are dropped by id): no gap, no duplicate. Rows of one run
commit in id order (journal.append holds a per-run advisory lock), so "id >
last read" never skips a row. A poll every stream_poll_seconds covers
notifications lost while the LISTEN connection reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from prazium_kit.journal import FINAL_EVENT_TYPES, NOTIFY_CHANNEL, Event

log = logging.getLogger(__name__)
RunKey = tuple[str, str]  # (namespace, run CR name)
_PAGE = 500
_RECONNECT_MAX_SECONDS = 5.0
_SELECT = (
    "SELECT id, namespace, project, run, task, event_type, payload, created_at"
    " FROM events WHERE namespace = %s AND run = %s AND id > %s ORDER BY id LIMIT %s"
)


class Inbox:
    """One follower's share of its run's feed: the events handed over, and one
    waiter to wake. Leaner than an asyncio.Queue with a timeout per get: with
    1,000 followers of one run, each event is 1,000 hand-overs, and the
    follower's keep-alive and poll are a timer re-armed only when it fires
    (_Clock), not one per event."""

    __slots__ = ("events", "tick", "waiter")

    def __init__(self) -> None:
        self.events: deque[Event] = deque()
        self.tick = False  # the follower's timer is due (keep-alive, poll)
        self.waiter: asyncio.Future[None] | None = None

    def put(self, event: Event) -> None:
        self.events.append(event)
        self.wake()

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self) -> None:
        """Until an event is put or the timer is due (returns at once if either is)."""
        if self.events or self.tick:
            return
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None


class RunFeed:
    def __init__(self, hub: JournalHub, key: RunKey, last_id: int) -> None:
        self.hub = hub
        self.key = key
        self.last_id = last_id
        self.queues: set[Inbox] = set()
        self._lock = asyncio.Lock()
        self._again = False
        # The feed's last safety poll (loop time): one poll per feed per interval,
        # however many subscribers share it (1,000 on one run: 1 read, not 1,000).
        self.last_poll = 0.0

    def poll_due(self, now: float, interval: float) -> bool:
        if now - self.last_poll < interval:
            return False
        self.last_poll = now
        return True

    async def fetch(self) -> None:
        """Read rows after last_id and fan them out; coalesces concurrent wake-ups."""
        try:
            await self._fetch()
        except Exception as exc:  # the next wake-up or poll tries again
            log.warning("journal read for %s/%s failed: %s", *self.key, exc.__class__.__name__)

    async def _fetch(self) -> None:
        if self._lock.locked():
            self._again = True
            return
        async with self._lock:
            self._again = True
            while self._again:
                self._again = False
                while True:
                    rows = await self.hub.read(self.key, self.last_id, _PAGE)
                    if rows:
                        self.hub.last_fanout = time.monotonic()
                    for event in rows:
                        for inbox in self.queues:
                            inbox.put(event)
                    if rows:
                        self.last_id = rows[-1].id
                    if len(rows) < _PAGE:
                        break


class JournalHub:
    def __init__(self, dsn: str, poll_seconds: float) -> None:
        self.dsn = dsn
        self.poll_seconds = poll_seconds
        self.pool: AsyncConnectionPool[Any] | None = None
        self.feeds: dict[RunKey, RunFeed] = {}
        # When events were last handed to followers (time.monotonic()): the app runs
        # its full garbage collections away from it (server/gcpolicy.py).
        self.last_fanout = 0.0
        self._feed_lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        # The event loop keeps only weak references to tasks: a fetch nobody holds
        # could be garbage-collected mid-flight (RUF006), so the hub holds them.
        self._fetches: set[asyncio.Task[None]] = set()

    def wake(self, feed: RunFeed) -> None:
        """Start feed.fetch() in the background, referenced until it is done."""
        task = asyncio.get_running_loop().create_task(feed.fetch())
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    def poll(self, feed: RunFeed, now: float) -> None:
        """A subscriber's safety poll: wakes the feed unless another did this interval."""
        if feed.poll_due(now, self.poll_seconds):
            self.wake(feed)

    async def start(self) -> None:
        self.pool = AsyncConnectionPool(
            self.dsn,
            min_size=1,
            max_size=5,
            open=False,
            kwargs={"autocommit": True, "connect_timeout": 5},
            name="prazium-journal",
            check=AsyncConnectionPool.check_connection,
        )
        await self.pool.open(wait=False)
        self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        for task in list(self._fetches):
            task.cancel()
        await asyncio.gather(*self._fetches, return_exceptions=True)
        if self.pool is not None:
            await self.pool.close()

    async def read(self, key: RunKey, after_id: int, limit: int) -> list[Event]:
        assert self.pool is not None
        async with (
            self.pool.connection(timeout=10) as conn,
            conn.cursor(row_factory=dict_row) as cur,
        ):
            await cur.execute(_SELECT, (key[0], key[1], after_id, limit))
            return [Event(**row) for row in await cur.fetchall()]

    async def _max_id(self, key: RunKey) -> int:
        assert self.pool is not None
        async with self.pool.connection(timeout=10) as conn:
            cur = await conn.execute(
                "SELECT coalesce(max(id), 0) FROM events WHERE namespace = %s AND run = %s", key
            )
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def _final_id(self, key: RunKey) -> int | None:
        """The id of the run's final event, if it has one."""
        assert self.pool is not None
        async with self.pool.connection(timeout=10) as conn:
            cur = await conn.execute(
                "SELECT min(id) FROM events WHERE namespace = %s AND run = %s"
                " AND event_type = ANY(%s)",
                (*key, sorted(FINAL_EVENT_TYPES)),
            )
            row = await cur.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, connect_timeout=5
                )
                async with conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    failures = 0
                    self._wake_all()  # whatever was missed while (re)connecting
                    async for note in conn.notifies():
                        namespace, _, rest = note.payload.partition("/")
                        run = rest.rpartition(":")[0]
                        feed = self.feeds.get((namespace, run))
                        if feed is not None:
                            self.wake(feed)
            except asyncio.CancelledError:
                raise
            except (psycopg.Error, OSError) as exc:
                # Open streams stay open meanwhile (keep-alives); once PostgreSQL is
                # back the wake-up above hands them what was journaled. Backoff with
                # jitter, so replicas do not reconnect in step.
                delay = min(_RECONNECT_MAX_SECONDS, 0.5 * 2**failures) * random.uniform(0.5, 1)
                failures += 1
                log.warning(
                    "journal LISTEN connection lost (%s); reconnecting in %.1f s",
                    exc.__class__.__name__,
                    delay,
                )
                await asyncio.sleep(delay)

    def _wake_all(self) -> None:
        for feed in list(self.feeds.values()):
            self.wake(feed)

    @contextlib.asynccontextmanager
    async def subscription(self, key: RunKey) -> AsyncIterator[tuple[RunFeed, Inbox]]:
        queue = Inbox()
        async with self._feed_lock:
            feed = self.feeds.get(key)
            if feed is None:
                feed = RunFeed(self, key, await self._max_id(key))
                self.feeds[key] = feed
            feed.queues.add(queue)
        try:
            yield feed, queue
        finally:
            feed.queues.discard(queue)
            if not feed.queues and self.feeds.get(key) is feed:
                del self.feeds[key]

    async def follow(
        self, key: RunKey, after_id: int, tick_seconds: float
    ) -> AsyncIterator[Event | None]:
        """Events of the run after after_id, in order, live; None every tick_seconds
        of silence (for keep-alives). Ends after the run's final event."""
        async for batch in self.follow_batches(key, after_id, tick_seconds):
            if batch is None:
                yield None
                continue
            for event in batch:
                yield event

    async def follow_batches(
        self, key: RunKey, after_id: int, tick_seconds: float
    ) -> AsyncIterator[list[Event] | None]:
        """follow(), in batches: each time the follower runs, every event queued for
        it meanwhile (one, while it keeps up). A follower that fell behind - a
        busy machine, 1,000 followers of one run - catches up with one write of
        several frames, not one write each, so its backlog shrinks instead of
        growing. None every tick_seconds of silence; ends after the final event."""
        sent = after_id
        async with self.subscription(key) as (feed, queue):
            while True:  # replay what is already in the journal
                rows = await self.read(key, sent, _PAGE)
                batch = _through_final(rows)
                if batch:
                    sent = batch[-1].id
                    yield batch
                    if batch[-1].event_type in FINAL_EVENT_TYPES:
                        return
                if len(rows) < _PAGE:
                    break
            # Resumed at (or past) the final event: nothing more will come. A final
            # event after `sent` is one committed since the replay read; the queue,
            # registered before the replay, has it.
            final_id = await self._final_id(key)
            if final_id is not None and final_id <= sent:
                return
            clock = _Clock(self, feed, queue, tick_seconds)
            try:
                while True:
                    await queue.wait()
                    if not queue.events:  # the timer: perhaps quiet for tick_seconds
                        if clock.keepalive_due():
                            yield None
                        continue
                    batch = _take(queue, sent)
                    if not batch:
                        continue
                    sent = batch[-1].id
                    clock.output()
                    yield batch
                    if batch[-1].event_type in FINAL_EVENT_TYPES:
                        return
            finally:
                clock.stop()


def _through_final(events: list[Event]) -> list[Event]:
    """events up to and including the first final one."""
    for number, event in enumerate(events):
        if event.event_type in FINAL_EVENT_TYPES:
            return events[: number + 1]
    return events


def _take(inbox: Inbox, sent: int) -> list[Event]:
    """Every queued event after id `sent` (the replay may have sent some), up to
    and including a final one."""
    batch: list[Event] = []
    while inbox.events:
        event = inbox.events.popleft()
        if event.id <= sent:
            continue
        sent = event.id
        batch.append(event)
        if event.event_type in FINAL_EVENT_TYPES:
            break
    return batch


class _Clock:
    """A follower's keep-alive and safety poll: one timer, re-armed when it fires
    (or a keep-alive goes out), not per event; an event only moves last_output."""

    def __init__(self, hub: JournalHub, feed: RunFeed, inbox: Inbox, tick: float) -> None:
        self.hub = hub
        self.feed = feed
        self.inbox = inbox
        self.tick = tick
        self.loop = asyncio.get_running_loop()
        self.last_output = self.last_poll = self.loop.time()
        self.timer = self.loop.call_at(self._due(), self._fire)

    def _due(self) -> float:
        poll = self.last_poll + self.hub.poll_seconds
        # A keep-alive the follower has not sent yet re-arms the timer when it is.
        return poll if self.inbox.tick else min(self.last_output + self.tick, poll)

    def _fire(self) -> None:
        now = self.loop.time()
        if now - self.last_poll >= self.hub.poll_seconds:
            self.last_poll = now
            self.hub.poll(self.feed, now)
        if now - self.last_output >= self.tick:
            self.inbox.tick = True
            self.inbox.wake()
        if self.inbox in self.feed.queues:  # else the follower is gone
            self.timer = self.loop.call_at(max(self._due(), now + 0.01), self._fire)

    def output(self) -> None:
        self.last_output = self.loop.time()

    def keepalive_due(self) -> bool:
        """After the timer woke the follower: whether it still has been quiet for
        tick seconds (an event may have gone out since)."""
        self.inbox.tick = False
        if self.loop.time() - self.last_output < self.tick:
            return False
        self.output()
        self.timer.cancel()
        self.timer = self.loop.call_at(self._due(), self._fire)
        return True

    def stop(self) -> None:
        self.timer.cancel()
