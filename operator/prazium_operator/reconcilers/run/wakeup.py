"""Waking Run daemons when what they wait for happened, instead of polling them all.

A daemon with a running worker waits on the executor (executor.wait_for_exit) at a
short interval: it ingests the worker's live events (TASK_STARTED) and notices its
exit. A daemon with nothing running waits for one of two things: a worker slot for
its ready tasks, or a change of its Run (spec.cancel, spec.parallelism; handlers/run.py
wakes it on every event of its Run). It sleeps until woken, with a long safety
interval, so hundreds of waiting runs cost nothing between events.

Free worker slots are offered in turn: the daemons that found no slot queue up (first
come, first served) and as many are woken as slots are free (each takes what it
needs), so a worker's exit neither wakes every waiting run nor makes them race for
the same slot. One woken in its turn that finds no slot left keeps its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable

import kopf

Key = tuple[str, str]  # (namespace, run name)

# How long a daemon offered a slot may take to use it before the slot counts as free
# again (its round is a few apiserver calls; a slow one only delays the next offer).
TURN_SECONDS = 5.0


class Wakeups:
    """One per operator (memo.wakeups): every Run daemon's wake-up event and the queue
    of those waiting for a worker slot. Lives in the event loop: no locking.

    free_slots: how many more workers the executor may start now."""

    def __init__(self, free_slots: Callable[[], int]) -> None:
        self._free_slots = free_slots
        self._events: dict[Key, asyncio.Event] = {}
        self._queue: OrderedDict[Key, None] = OrderedDict()
        self._turns: dict[Key, float] = {}  # woken to take a slot: until when

    def register(self, key: Key) -> None:
        self._events.setdefault(key, asyncio.Event())

    def unregister(self, key: Key) -> None:
        self._events.pop(key, None)
        self._queue.pop(key, None)
        self.round_done(key)

    def wake(self, key: Key) -> None:
        """Something about this Run changed (an event of it): its daemon looks again."""
        event = self._events.get(key)
        if event is not None:
            event.set()

    def want_slot(self, key: Key) -> None:
        """This run has ready tasks and found no free slot: wake it in its turn (first
        in the queue again if it was woken in its turn and found the slot gone)."""
        if key not in self._queue:
            self._queue[key] = None
            if key in self._turns:
                self._queue.move_to_end(key, last=False)
        self.round_done(key)

    def round_done(self, key: Key) -> None:
        """The daemon finished a round (it took its slots, or freed some): offer on."""
        self._turns.pop(key, None)
        self.offer()

    def offer(self) -> None:
        """Wake the first queued daemons, one per free slot not offered already."""
        now = time.monotonic()
        for key in [k for k, until in self._turns.items() if until < now]:
            del self._turns[key]
        free = self._free_slots() - len(self._turns)
        while self._queue and free > 0:
            key, _ = self._queue.popitem(last=False)
            event = self._events.get(key)
            if event is None:
                continue
            self._turns[key] = now + TURN_SECONDS
            event.set()
            free -= 1

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def others_waiting(self, key: Key) -> bool:
        """Whether some other run has ready tasks queued for a worker slot."""
        return any(queued != key for queued in self._queue)

    async def wait(self, key: Key, timeout: float, stopped: kopf.DaemonStopped) -> None:
        """Until woken, stopped, or timeout."""
        event = self._events.get(key)
        if event is None:
            await stopped.wait(timeout)
            return
        if not event.is_set() and not stopped:
            woken = asyncio.ensure_future(event.wait())
            halted = asyncio.ensure_future(_stopped_or_timeout(stopped, timeout))
            try:
                await asyncio.wait((woken, halted), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (woken, halted):
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter
        event.clear()


async def _stopped_or_timeout(stopped: kopf.DaemonStopped, timeout: float) -> None:
    await stopped.wait(timeout)
