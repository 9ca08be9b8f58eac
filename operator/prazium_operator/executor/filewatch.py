"""Wake the run daemons when a worker's result or event file appears on the volume.

The local executor learns of a worker's exit from the process itself; a worker in a Pod
says it has started and that it is done only through files on the repo volume (its
event file, its result file), which the run daemons otherwise look at on their next
poll (every 0.2 s). An inotify watch of the results directory (watchfiles) wakes them
at once. Where the volume is a network file system, writes from other machines raise
no event there, and the poll still finds the files.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import watchfiles

log = logging.getLogger(__name__)
# watchfiles says "N changes detected" at INFO on every worker write: noise in the
# operator's log at hundreds of tasks, and nothing an operator acts on.
logging.getLogger("watchfiles").setLevel(logging.WARNING)
# Changes are handed over this soon after the first (and at most after DEBOUNCE_MS).
STEP_MS = 5
DEBOUNCE_MS = 50
WATCHED_SUFFIXES = (".json", ".jsonl")


def _worker_file(change: watchfiles.Change, path: str) -> bool:
    return change is not watchfiles.Change.deleted and path.endswith(WATCHED_SUFFIXES)


class ResultWatch:
    """One watch of <data>/results for the whole operator; wait() returns when a
    worker file changed or after the timeout."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def wait(self, timeout: float) -> None:
        self._ensure()
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    def _ensure(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        try:
            await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
            async for _ in watchfiles.awatch(
                self.root, watch_filter=_worker_file, step=STEP_MS, debounce=DEBOUNCE_MS
            ):
                # Every waiter of this round wakes; later ones wait for the next change.
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()
        except Exception as exc:  # the poll carries on without it
            log.warning("watching %s for worker files failed: %s", self.root, exc)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
