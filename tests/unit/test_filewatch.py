"""The kubernetes executor's wake-up on a worker's files (executor/filewatch.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from prazium_operator.executor.filewatch import ResultWatch


def test_a_result_file_ends_the_wait_at_once_and_others_do_not(tmp_path: Path) -> None:
    async def scenario() -> tuple[float, float]:
        watch = ResultWatch(tmp_path / "results")
        await watch.wait(0.5)  # starts the watch (nothing changes: the timeout)
        run = tmp_path / "results" / "t1" / "run-1"
        run.mkdir(parents=True)
        await asyncio.sleep(0.3)  # the new directory is watched too

        async def later(path: Path, text: str) -> None:
            await asyncio.sleep(0.2)
            await asyncio.to_thread(path.write_text, text)

        started = time.monotonic()
        writer = asyncio.ensure_future(later(run / "task-001-1.json", "{}"))
        await watch.wait(10)
        woken = time.monotonic() - started
        await writer
        # A log line is no worker file: the wait runs to its timeout.
        started = time.monotonic()
        writer = asyncio.ensure_future(later(run / "task-001-1.log", "line\n"))
        await watch.wait(1.0)
        ignored = time.monotonic() - started
        await writer
        await watch.stop()
        return woken, ignored

    woken, ignored = asyncio.run(scenario())
    assert 0.15 <= woken < 5, woken
    assert ignored >= 0.95, ignored
