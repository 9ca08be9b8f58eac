"""The search tool's matching, in a helper process that can be killed.

Python's re cannot be interrupted, and a model's pattern may backtrack without end, so
matching never runs in the worker itself: a child forked at the attempt's first
search serves every search of the attempt over two pipes, and is killed (and forked
again at the next search) when one takes longer than SEARCH_SECONDS. One fork per
attempt instead of one per search: forking a worker that holds the SDKs costs tens of
milliseconds. The child only reads files, matches and writes to its pipe; it never
logs, collects no garbage (no finalizer of the worker's objects runs in it) and
leaves with os._exit when the worker closes its end.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import select
import signal
import struct
import time
from pathlib import Path

SEARCH_MAX_MATCHES = 80
SEARCH_LINE_CHARS = 240
SEARCH_FILE_MAX_BYTES = 1_000_000
SEARCH_SECONDS = 10.0
_HEADER = struct.Struct("!Q")


def search_files(root: Path, files: list[str], pattern: str) -> tuple[list[str], int]:
    """ "path:line: text" of the first SEARCH_MAX_MATCHES matching lines, and how many
    lines matched (text files only, none larger than SEARCH_FILE_MAX_BYTES)."""
    compiled = re.compile(pattern)
    matches: list[str] = []
    total = 0
    for path in files:
        target = root / path
        try:
            if target.stat().st_size > SEARCH_FILE_MAX_BYTES:
                continue
            data = target.read_bytes()
        except OSError:
            continue
        if b"\x00" in data[:8192]:
            continue
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if compiled.search(line):
                total += 1
                if len(matches) < SEARCH_MAX_MATCHES:
                    matches.append(f"{path}:{number}: {line.strip()[:SEARCH_LINE_CHARS]}")
    return matches, total


def _send(fd: int, payload: object) -> None:
    data = json.dumps(payload).encode("utf-8", errors="replace")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int, deadline: float | None = None) -> object:
    """One framed message; EOFError when the other end closed, TimeoutError past
    deadline."""
    buffer = bytearray()
    wanted = _HEADER.size
    header_read = False
    while len(buffer) < wanted:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
        chunk = os.read(fd, max(65536, wanted - len(buffer)))
        if not chunk:
            raise EOFError
        buffer += chunk
        if not header_read and len(buffer) >= _HEADER.size:
            header_read = True
            wanted = _HEADER.size + _HEADER.unpack(buffer[: _HEADER.size])[0]
    return json.loads(bytes(buffer[_HEADER.size : wanted]))


def _serve(requests: int, answers: int) -> None:
    """The child: search after search until the worker closes its end."""
    gc.disable()
    code = 0
    try:
        while True:
            try:
                asked = _receive(requests)
            except EOFError:
                break
            assert isinstance(asked, dict)
            try:
                found: object = search_files(Path(asked["root"]), asked["files"], asked["pattern"])
            except Exception as exc:
                found = {"error": f"{type(exc).__name__}: {exc}"}
            _send(answers, found)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


class Searcher:
    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = seconds
        self.pid: int | None = None
        self._requests = -1
        self._answers = -1

    def start(self) -> None:
        """Fork the helper now (the attempt's start) rather than at the first search.

        Only once the worker is non-dumpable (credentials.py): the fork keeps the flag,
        and its /proc environment is the worker's, key and all."""
        if self.pid is None:
            self._start()

    def _start(self) -> None:
        request_read, request_write = os.pipe()
        answer_read, answer_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(request_write)
            os.close(answer_read)
            _serve(request_read, answer_write)
        os.close(request_read)
        os.close(answer_write)
        self.pid, self._requests, self._answers = pid, request_write, answer_read

    def search(self, root: Path, files: list[str], pattern: str) -> tuple[list[str], int]:
        """As search_files, in the child; TimeoutError (the child killed) past the limit."""
        if self.pid is None:
            self._start()
        seconds = SEARCH_SECONDS if self.seconds is None else self.seconds
        try:
            _send(self._requests, {"root": str(root), "files": files, "pattern": pattern})
            answer = _receive(self._answers, time.monotonic() + seconds)
        except TimeoutError:
            self.close()
            raise TimeoutError(seconds) from None
        except (EOFError, OSError):
            self.close()
            raise RuntimeError("the search helper ended") from None
        if isinstance(answer, dict):
            raise RuntimeError(str(answer.get("error")))
        assert isinstance(answer, list)
        return [str(m) for m in answer[0]], int(answer[1])

    def close(self) -> None:
        if self.pid is None:
            return
        for fd in (self._requests, self._answers):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.pid = None
