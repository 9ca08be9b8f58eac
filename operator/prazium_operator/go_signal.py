"""The go signal: a file the operator writes when a started sandbox Pod may begin.

A worker or verification Pod is created before its work can begin (a task's while its
dependencies still run, a verification's while the last tasks run and merge), so the
Pod start is paid while the work before it runs. Its process starts, imports what it
needs, and then waits, cheaply, for the go file beside its request (worker) or in its
verification directory (verification); the operator writes the file once the work may
begin: the task's dependencies merged into its base and its request written, or the
merged tree exported. A Pod created when the work could begin at once finds the file
there already and waits for nothing.

The file holds the SHA-256 of what the work starts from (the request file; for a
verification, nothing): the waiting side checks it, so a request being replaced is
never read half-written. Tasks of one run share one results directory (and one
repository), so a task's untrusted code could write a sibling's files; it could do as
much to the sibling's repository, so the go file is no new way in.

A floor below the executors and the worker: both sides import this module, neither
the other.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

GO_SUFFIX = ".go"
# A waiting Pod looks this often: a stat of a local file, about 40 times a second,
# is no measurable load; it bounds what the signal adds to a start.
POLL_SECONDS = 0.025


def task_go(result_path: Path) -> Path:
    """The go file of a task attempt, beside its result (<task>-<attempt>.go)."""
    return result_path.with_suffix(GO_SUFFIX)


def verification_go(directory: Path) -> Path:
    """The go file of a run's verification, in its directory."""
    return directory / f"start{GO_SUFFIX}"


def digest_of(path: Path | None) -> str:
    """What the go file holds: the SHA-256 of the file the work starts from ("" for none)."""
    if path is None:
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(go: Path, start_from: Path | None = None) -> None:
    """Give the go signal (atomically: a reader sees no file or the whole file)."""
    tmp = go.with_name(f".{go.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(digest_of(start_from))
    os.replace(tmp, go)


def clear(go: Path) -> None:
    """Before a Pod is created for the attempt: no go file from an earlier one."""
    go.unlink(missing_ok=True)


def given(go: Path, start_from: Path | None = None) -> bool:
    """Whether the go file is there and matches what the work starts from."""
    try:
        with open(go, "rb", opener=_no_follow) as handle:
            wanted = handle.read(128).decode("ascii", errors="replace").strip()
    except OSError:  # missing, a symlink, ...
        return False
    if not wanted:
        return start_from is None
    try:
        return digest_of(start_from) == wanted
    except OSError:
        return False


def wait(
    go: Path,
    start_from: Path | None = None,
    *,
    poll: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Block until the go signal is given; the seconds waited."""
    started = time.monotonic()
    while not given(go, start_from):
        sleep(poll)
    return time.monotonic() - started


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)
