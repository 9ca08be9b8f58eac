"""The worker's output, kept: everything the worker process and the processes it starts
(a coder's CLI) write to stdout and stderr goes through a pipe to a thread that writes
the attempt's kept log (prazium_kit.tasklogs, capped) and echoes it to the stdout the
worker was started with: the Pod's log, so `kubectl logs` shows the same lines while
the worker runs; the kept log on the volume outlives the Pod.

The local executor starts the worker with stdout already being the kept log (so a
crash before the capture starts is kept too); then nothing is echoed, or every line
would be there twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from pathlib import Path

from prazium_kit.tasklogs import CappedLog

_CHUNK = 64 * 1024


class OutputCapture:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.log = CappedLog(path, max_bytes)
        _flush()
        self._saved = (os.dup(1), os.dup(2))
        self._echo: int | None = None if _same_file(self._saved[0], path) else self._saved[0]
        read_end, write_end = os.pipe()
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        self._read_end = read_end
        self._pump = threading.Thread(target=self._copy, name="output-capture", daemon=True)
        self._pump.start()

    def _copy(self) -> None:
        # Never logs: its own lines would come back through the pipe.
        while True:
            try:
                chunk = os.read(self._read_end, _CHUNK)
            except OSError:
                break
            if not chunk:
                break
            self.log.write(chunk)
            if self._echo is not None:
                try:
                    _write_all(self._echo, chunk)
                except OSError:
                    self._echo = None  # the Pod's log went away; the kept log goes on

    def close(self, timeout: float = 5.0) -> None:
        """Put stdout and stderr back, let the thread drain the pipe, close the log.

        A process the worker started that still holds the pipe (a coder's daemon) keeps
        the thread waiting; after timeout the log is closed without what it writes."""
        _flush()
        os.dup2(self._saved[0], 1)
        os.dup2(self._saved[1], 2)
        self._pump.join(timeout)
        self._echo = None
        self.log.close()
        for fd in self._saved:
            with contextlib.suppress(OSError):
                os.close(fd)


def start(path: Path, max_bytes: int) -> OutputCapture:
    return OutputCapture(path, max_bytes)


def _flush() -> None:
    for handler in logging.getLogger().handlers:
        with contextlib.suppress(Exception):
            handler.flush()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def _same_file(fd: int, path: Path) -> bool:
    try:
        mine, theirs = os.fstat(fd), path.stat()
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
