"""The API's garbage collector, kept from stopping the event loop while events fan out.

A full collection scans every object the collector tracks, with the event loop
stopped: the app's modules and classes, the read cache's Projects, Runs and Tasks,
and the objects of every open stream (about 170 per SSE subscriber). With 5,000
cached Projects and 1,000 SSE subscribers that took 100-375 ms on a loaded 2-core
machine (measured with gc.callbacks), and CPython started one every few seconds
while streams opened and events fanned out (its rule: when the old generation grew
by a quarter). One such pause while an event was being written to the 1,000
streams delayed all 1,000 frames: it was the SSE delivery p99 by itself, which
therefore moved from run to run with where the pause fell.

So the API decides when full collections run:

* young collections stay as CPython runs them (cheap: a few thousand objects);
  CPython's own full collections are off (threshold2 out of reach);
* a full collection runs at most every full_seconds (60 s), at a quiet moment (no
  event fanned out for the last QUIET_SECONDS, waiting at most MAX_DEFER_SECONDS),
  so it can touch at most a small share of deliveries; cyclic garbage that outlived
  two young collections waits that long to be freed (everything else is freed by
  reference counting at once);
* what lives as long as the process is frozen (gc.freeze: out of every collection,
  still freed by reference counting): the app once started, and the read cache
  after each (re)list, so the full collections that do run are shorter.

PRAZIUM_GC_FULL_SECONDS=0 leaves CPython's own policy in place.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# CPython's young thresholds (700 allocations, then 10 young collections per middle
# one); full collections only from full_collections() below.
THRESHOLDS = (700, 10, 1_000_000_000)
QUIET_SECONDS = 0.5
MAX_DEFER_SECONDS = 10.0


def configure(full_seconds: float) -> bool:
    """Take full collections over (True), unless full_seconds is 0."""
    if full_seconds <= 0:
        return False
    gc.set_threshold(*THRESHOLDS)
    return True


def freeze_long_lived(why: str) -> None:
    """Collect what is garbage now, then freeze what is left (it lives on): later full
    collections no longer scan it."""
    collected = gc.collect()
    gc.freeze()
    log.debug("froze %d objects (%s; %d collected)", gc.get_freeze_count(), why, collected)


async def full_collections(full_seconds: float, last_busy: Callable[[], float]) -> None:
    """Every full_seconds, one full collection at a quiet moment. last_busy: the
    monotonic time events were last fanned out."""
    while True:
        await asyncio.sleep(full_seconds)
        deferred = 0.0
        while time.monotonic() - last_busy() < QUIET_SECONDS and deferred < MAX_DEFER_SECONDS:
            await asyncio.sleep(QUIET_SECONDS)
            deferred += QUIET_SECONDS
        started = time.perf_counter()
        collected = gc.collect()
        log.debug(
            "full collection: %d collected in %.1f ms",
            collected,
            (time.perf_counter() - started) * 1000,
        )
