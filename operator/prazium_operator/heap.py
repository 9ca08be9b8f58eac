"""The operator's heap: glibc's malloc arenas capped.

glibc gives each new thread that allocates its own malloc arena, up to eight per core,
each reserving 64 MB of address space and keeping freed memory for its thread. The
operator runs tens of threads (asyncio.to_thread carries every Kubernetes client call),
so at hundreds of runs a share of its resident memory sat in arenas of threads that
had since gone idle (capping them took 7% off its peak at 100 runs: docs/benchmarks.md).
Capping the arenas at startup (mallopt M_ARENA_MAX, what the MALLOC_ARENA_MAX
environment variable does) shares a few arenas among the threads; the Python heap's
own small objects (pymalloc) are not affected.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger("prazium.heap")

M_ARENA_MAX = -8  # glibc's malloc.h


def cap_malloc_arenas(arenas: int) -> bool:
    """Cap glibc's malloc arenas at `arenas` for threads that allocate from now on;
    True when capped. 0, a MALLOC_ARENA_MAX already in the environment (glibc read it
    at start and it wins), or a C library other than glibc: left as it is."""
    if arenas <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the process's own C library
    if not libc.mallopt(M_ARENA_MAX, arenas):
        log.warning("glibc refused to cap its malloc arenas at %s", arenas)
        return False
    return True
