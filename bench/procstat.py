"""CPU seconds and the fork server of a process, from /proc (Linux), for the benches."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_times(pid: int) -> tuple[float, float]:
    """(own, reaped children's) CPU seconds of pid (0, 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def fork_servers(parent: int) -> list[int]:
    """The operator's fork servers (executor/forkserver.py): its forked workers are their
    children, not the operator's."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b"executor.forkserver" in cmdline:
            found.append(int(entry.name))
    return found
