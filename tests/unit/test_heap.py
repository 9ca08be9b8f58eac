"""The operator's malloc arena cap (operator/prazium_operator/heap.py), in a fresh
interpreter each time: glibc's arenas are per process and cannot be uncapped."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="the arenas are glibc's (this C library has none)"
)

# Eight threads alive at once, each allocating beyond pymalloc (so from malloc), then
# glibc's own count of its arenas (malloc_stats prints one "Arena N:" block each).
PROBE = """
import ctypes, sys, threading
from prazium_operator import heap
print("capped" if heap.cap_malloc_arenas(int(sys.argv[1])) else "left", flush=True)
barrier = threading.Barrier(8)
kept = []
def allocate():
    barrier.wait()
    kept.append([bytearray(64 * 1024) for _ in range(8)])
    barrier.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(cap: int, **env: str) -> tuple[str, int]:
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(cap)],
        env={**environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    arenas = sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))
    return done.stdout.strip(), arenas


def test_capped_threads_share_two_arenas_where_uncapped_each_takes_its_own() -> None:
    left, uncapped = _arenas(0)
    capped_said, capped = _arenas(2)
    assert (left, capped_said) == ("left", "capped")
    assert uncapped > 2, uncapped  # the probe does make arenas: the cap is what limits them
    assert capped <= 2, capped


def test_an_environment_cap_is_left_to_glibc() -> None:
    said, arenas = _arenas(2, MALLOC_ARENA_MAX="3")
    assert said == "left"
    assert arenas <= 3, arenas
