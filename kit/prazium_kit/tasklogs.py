"""Kept logs on the repo volume (a task attempt's output, a run's verification output),
size-capped with a visible marker.

A capped log keeps its start as it is written (so it can be followed live) up to
three quarters of the cap; past that it keeps only the latest quarter in memory and,
when closed, appends that tail, after one marker line when anything was left out (a
log that fits its cap is kept whole, without a marker):

    ...the first lines...
    [prazium: log truncated, 73102 bytes omitted]
    ...the last lines (how the attempt ended)...

So a kept log never grows much beyond its cap, and both what an attempt set out to
do and how it ended survive. Readers (the API) cap again what they serve, so a file
written by anything else cannot make a response unbounded.

The writer is shared by the worker (its output capture) and the operator (the
verification output); the reader by the API.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DEFAULT_MAX_BYTES = 1024 * 1024
MARKER_PREFIX = b"[prazium: log truncated, "
_MARKER = re.compile(rb"(?:^|\n)\[prazium: log truncated, \d+ bytes omitted\]\n")


def marker(omitted: int) -> bytes:
    """The marker line standing for omitted bytes."""
    return b"%s%d bytes omitted]\n" % (MARKER_PREFIX, omitted)


def budgets(max_bytes: int) -> tuple[int, int]:
    """(head, tail): how much of the start and of the end a log of max_bytes keeps."""
    cap = max(max_bytes, 1024)
    tail = cap // 4
    return cap - tail, tail


class CappedLog:
    """Append-only writer of a capped log (thread-safe). Appends to what the file
    already holds (an attempt's first line written by its Pod's shell), which counts
    against the cap."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._head, self._tail_budget = budgets(max_bytes)
        self._written = self._file.tell()
        self._tail = bytearray()
        self._overflow = 0  # bytes that went past the head (kept in part in _tail)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def truncating(self) -> bool:
        return self._overflow > 0

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._closed or not data:
                return
            if not self._overflow:
                room = self._head - self._written
                if len(data) <= room:
                    self._append(data)
                    return
                # Cut at the last line end that fits, so the head ends with a whole line.
                cut = data.rfind(b"\n", 0, room) + 1 if room > 0 else 0
                self._append(data[:cut])
                data = data[cut:]
            self._overflow += len(data)
            self._tail += data
            if len(self._tail) > self._tail_budget:
                del self._tail[: len(self._tail) - self._tail_budget]

    def _append(self, data: bytes) -> None:
        if data:
            self._file.write(data)
            self._file.flush()  # followers read the file as it grows
            self._written += len(data)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._overflow:
                tail = bytes(self._tail)
                if len(tail) == self._overflow:
                    # All that went past the head fits the tail's budget: nothing was
                    # left out, so the log is whole and carries no marker.
                    self._file.write(tail)
                else:
                    # The kept tail starts on a line of its own (when it has a line end).
                    start = tail.find(b"\n") + 1
                    if 0 < start < len(tail):
                        tail = tail[start:]
                    omitted = self._overflow - len(tail)
                    lead = b"" if self._ends_with_newline() else b"\n"
                    self._file.write(lead + marker(omitted) + tail)
            self._file.close()

    def _ends_with_newline(self) -> bool:
        if self._written == 0:
            return True
        self._file.flush()
        with open(self._file.name, "rb") as reader:
            reader.seek(-1, os.SEEK_END)
            return reader.read(1) == b"\n"


@dataclass(frozen=True)
class LogText:
    data: bytes
    truncated: bool
    size: int = 0  # the file's size when read: where following it goes on


def open_kept(path: Path) -> BinaryIO:
    """Open a kept log for reading, never through a symlink: in a worker Pod the run's
    results directory is writable by untrusted code, which could otherwise swap its
    log for a link to another tenant's file. A link answers as if there were no log
    (FileNotFoundError)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise FileNotFoundError(errno.ENOENT, "not a regular log file", str(path)) from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or device would block or never end
        os.close(fd)
        raise FileNotFoundError(errno.ENOENT, "not a regular log file", str(path))
    return os.fdopen(fd, "rb")


def is_truncated(data: bytes) -> bool:
    return _MARKER.search(data) is not None


def read(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, tail_lines: int | None = None) -> LogText:
    """A kept log as served: at most about max_bytes (a larger file, written by
    something that did not cap it, is cut like the writer would), the last
    tail_lines lines when given. FileNotFoundError when there is no log."""
    head, tail = budgets(max_bytes)
    with open_kept(path) as file:
        size = os.fstat(file.fileno()).st_size
        if size <= head + tail + len(marker(size)):
            data = file.read(size)
            size = len(data)
            truncated = is_truncated(data)
        else:
            first = file.read(head)
            first = first[: first.rfind(b"\n") + 1] or first
            file.seek(size - tail)
            last = file.read(tail)
            start = last.find(b"\n") + 1
            last = last[start:] if 0 < start < len(last) else last
            lead = b"" if first.endswith(b"\n") else b"\n"
            data = first + lead + marker(size - len(first) - len(last)) + last
            truncated = True
    if tail_lines is not None:
        data = last_lines(data, tail_lines)
    return LogText(data, truncated, size)


def last_lines(data: bytes, count: int) -> bytes:
    """The last count lines of data (a final line without a line end counts)."""
    if count <= 0:
        return b""
    lines = data.splitlines(keepends=True)
    return b"".join(lines[-count:])
