"""Kept logs: the cap keeps the start and the end around a visible marker; the worker's
output capture writes the kept log and echoes to the worker's stdout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from prazium_kit import tasklogs

MARKER = re.compile(rb"\[prazium: log truncated, (\d+) bytes omitted\]\n")


def _lines(count: int, prefix: str = "line") -> bytes:
    return b"".join(f"{prefix} {n:05d} {'x' * 40}\n".encode() for n in range(count))


def test_a_log_under_its_cap_is_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / "task-001-1.log"
    log = tasklogs.CappedLog(path, 4096)
    data = _lines(20)
    for start in range(0, len(data), 100):
        log.write(data[start : start + 100])
    log.close()
    assert path.read_bytes() == data
    kept = tasklogs.read(path, 4096)
    assert kept.data == data and not kept.truncated and kept.size == len(data)


@pytest.mark.parametrize("chunk", [100, 10_000])  # written piecemeal, or at once
def test_a_log_past_its_head_but_within_its_cap_is_kept_whole(tmp_path: Path, chunk: int) -> None:
    # Past three quarters of the cap the rest waits in memory for the tail; when all of
    # it fits, nothing was left out: no marker, and the log does not say truncated.
    path = tmp_path / "verification.log"
    log = tasklogs.CappedLog(path, 4096)
    data = _lines(70)
    head, tail = tasklogs.budgets(4096)
    assert head < len(data) <= head + tail
    for start in range(0, len(data), chunk):
        log.write(data[start : start + chunk])
    log.close()
    assert path.read_bytes() == data
    kept = tasklogs.read(path, 4096)
    assert kept.data == data and not kept.truncated


def test_past_its_cap_the_start_and_the_end_are_kept_around_the_marker(tmp_path: Path) -> None:
    path = tmp_path / "task-001-1.log"
    path.write_bytes(b"worker pod p: uid=10001\n")  # the Pod's shell wrote the first line
    log = tasklogs.CappedLog(path, 4096)
    data = _lines(1000)
    for start in range(0, len(data), 777):  # chunks cut lines anywhere
        log.write(data[start : start + 777])
    assert log.truncating
    log.close()
    text = path.read_bytes()
    assert len(text) <= 4096 + 100
    [match] = list(MARKER.finditer(text))
    head, tail = text[: match.start()], text[match.end() :]
    assert head.startswith(b"worker pod p: uid=10001\nline 00000 ")
    assert head.endswith(b"\n") and tail.endswith(b"line 00999 " + b"x" * 40 + b"\n")
    assert tail.startswith(b"line ")  # whole lines on both sides
    # Nothing is lost silently: kept + omitted is what was written.
    written = len(b"worker pod p: uid=10001\n") + len(data)
    assert len(head) + int(match.group(1)) + len(tail) == written
    kept = tasklogs.read(path, 4096, tail_lines=3)
    assert kept.truncated and kept.data.count(b"\n") == 3
    assert kept.data.endswith(b"line 00999 " + b"x" * 40 + b"\n")


def test_a_reader_caps_a_file_nobody_capped(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    data = _lines(5000)
    path.write_bytes(data)
    kept = tasklogs.read(path, 8192)
    assert kept.truncated and len(kept.data) < 8192 + 100
    [match] = list(MARKER.finditer(kept.data))
    assert kept.data.startswith(b"line 00000 ") and kept.data.endswith(data[-47:])
    assert len(kept.data) - len(match.group(0)) + int(match.group(1)) == len(data)
    assert tasklogs.last_lines(b"a\nb\nc", 2) == b"b\nc"
    assert tasklogs.last_lines(b"a\nb\n", 5) == b"a\nb\n"


CHILD = """
import os, subprocess, sys
from pathlib import Path
from prazium_operator.worker import logcapture
capture = logcapture.start(Path(sys.argv[1]), int(sys.argv[2]))
print("from python", flush=True)
subprocess.run(["sh", "-c", "echo from a child; echo to stderr >&2"], check=True)
sys.stdout.write("y" * 20000 + "\\n")
print("the last line", flush=True)
capture.close()
print("after close")
"""


def test_the_capture_keeps_the_workers_and_its_childrens_output_and_echoes_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "results" / "task-001-1.log"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), "4096"],
        capture_output=True,
        timeout=60,
        check=True,
    )
    kept = path.read_bytes()
    assert kept.startswith(b"from python\nfrom a child\nto stderr\n"), kept[:200]
    assert MARKER.search(kept) and kept.endswith(b"the last line\n")
    assert b"after close" not in kept
    # The worker's own stdout (a Pod's log) got every line, uncapped.
    assert done.stdout.startswith(b"from python\nfrom a child\nto stderr\n" + b"y" * 20000)
    assert done.stdout.endswith(b"the last line\nafter close\n")


def test_no_echo_when_stdout_is_the_kept_log_itself(tmp_path: Path) -> None:
    path = tmp_path / "task-001-2.log"
    with path.open("ab") as output:  # as the local executor starts a worker
        subprocess.run(
            [sys.executable, "-c", CHILD, str(path), "1048576"],
            stdout=output,
            stderr=output,
            timeout=60,
            check=True,
        )
    kept = path.read_bytes()
    assert kept.count(b"from python\n") == 1 and kept.count(b"the last line\n") == 1
    assert kept.endswith(b"the last line\nafter close\n")


def test_a_log_swapped_for_a_symlink_reads_as_no_log(tmp_path: Path) -> None:
    # In a worker Pod the results directory is writable by untrusted code: a link to
    # another tenant's file must not be served as the task's log.
    secret = tmp_path / "other-tenant.txt"
    secret.write_bytes(b"not yours\n")
    log = tmp_path / "task_001-1.log"
    log.symlink_to(secret)
    with pytest.raises(FileNotFoundError):
        tasklogs.read(log)
    fifo = tmp_path / "task_002-1.log"
    os.mkfifo(fifo)
    with pytest.raises(FileNotFoundError):
        tasklogs.read(fifo)
