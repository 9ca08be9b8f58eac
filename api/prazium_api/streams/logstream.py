"""Serving kept logs (prazium_kit.tasklogs) from the repo volume: read once, or follow.

Following reads the file as it grows and ends when the attempt has ended - its
result file is written, or the Task's status moved on (another attempt, a final
phase, the Task gone) - and the last bytes the worker wrote on its way out (the
capped log's marker and tail are written as it exits) have been read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio

from prazium_kit import tasklogs

MEDIA_TYPE = "text/plain; charset=utf-8"
_CHUNK = 64 * 1024


def text(data: bytes) -> bytes:
    """What is served: UTF-8 (a coder may print anything; undecodable bytes become U+FFFD)."""
    return data.decode("utf-8", errors="replace").encode("utf-8")


def headers(truncated: bool, attempt: int | None = None) -> dict[str, str]:
    out = {"X-Prazium-Log-Truncated": "true" if truncated else "false", "Cache-Control": "no-cache"}
    if attempt is not None:
        out["X-Prazium-Attempt"] = str(attempt)
    return out


async def follow(
    path: Path,
    start: int,
    ended: Callable[[], bool],
    *,
    poll_seconds: float = 0.25,
    check_seconds: float = 2.0,
    settle_seconds: float = 1.0,
    settle_max_seconds: float = 5.0,
) -> AsyncIterator[bytes]:
    """The bytes written to path from offset start on, until ended() (called at most
    every check_seconds, in a thread) says the writer is done and the file has then
    not grown for settle_seconds (at most settle_max_seconds after the end was seen)."""
    offset = start
    pending = b""  # an incomplete UTF-8 sequence at a chunk's end waits for the rest
    next_check = 0.0
    ended_at: float | None = None
    quiet_since = time.monotonic()
    while True:
        chunk = await anyio.to_thread.run_sync(_read_from, path, offset)
        now = time.monotonic()
        if chunk:
            offset += len(chunk)
            quiet_since = now
            data, pending = _complete_utf8(pending + chunk)
            if data:
                yield text(data)
        if ended_at is None and now >= next_check:
            next_check = now + check_seconds
            if await anyio.to_thread.run_sync(ended):
                # The writer's last bytes (the capped log's marker and tail) follow
                # its result: wait for settle_seconds of quiet from here on.
                ended_at = quiet_since = time.monotonic()
        if ended_at is not None and (
            now - quiet_since >= settle_seconds or now - ended_at >= settle_max_seconds
        ):
            break
        if not chunk:
            await asyncio.sleep(poll_seconds)
    if pending:
        yield text(pending)


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with tasklogs.open_kept(path) as file:
            file.seek(offset)
            return file.read(_CHUNK)
    except FileNotFoundError:
        return b""


def _complete_utf8(data: bytes) -> tuple[bytes, bytes]:
    """(the complete UTF-8 text of data, an incomplete sequence at its end)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue  # a continuation byte: look further back for the lead
        if byte & 0x80 == 0:
            return data, b""
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4
        return (data, b"") if back >= need else (data[:-back], data[-back:])
    return data, b""


def initial(path: Path, max_bytes: int, tail: int | None) -> tuple[tasklogs.LogText, int]:
    """What the log holds now (capped, its last tail lines) and the offset to follow from."""
    try:
        kept = tasklogs.read(path, max_bytes, tail)
    except FileNotFoundError:
        return tasklogs.LogText(b"", False), 0
    return kept, kept.size
