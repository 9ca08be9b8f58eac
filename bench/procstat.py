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


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (every core; /proc/stat's
    first line less idle and iowait): the difference over a span is what everything on
    it cost, the node's daemons and Pods included, which no single process shows."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def cgroup_cpu_seconds(path: str) -> float:
    """CPU seconds of every process ever in a cgroup v1 cpuacct group and its children
    (cpuacct.usage, in ns); 0 when there is no such group (cgroup v2, or gone)."""
    try:
        return (
            int(Path("/sys/fs/cgroup/cpuacct", path.strip("/"), "cpuacct.usage").read_text()) / 1e9
        )
    except (OSError, ValueError):
        return 0.0


class CpuSplit:
    """Where a span's CPU went: named processes (their own CPU, and their reaped
    children's for those in with_children), cgroups (a node's Pods), and the machine
    as a whole; split() gives each part's seconds since start() and the rest."""

    def __init__(
        self,
        pids: dict[str, list[int]],
        cgroups: dict[str, str] | None = None,
        with_children: frozenset[str] = frozenset(),
    ) -> None:
        self.pids = pids
        self.cgroups = cgroups or {}
        self.with_children = with_children
        self._start: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {"machine": machine_busy_seconds()}
        for name, pids in self.pids.items():
            total = 0.0
            for pid in pids:
                own, children = cpu_times(pid)
                total += own + (children if name in self.with_children else 0.0)
            now[name] = total
        for name, path in self.cgroups.items():
            now[name] = cgroup_cpu_seconds(path)
        return now

    def start(self) -> None:
        self._start = self._now()

    def split(self) -> dict[str, float]:
        now = self._now()
        spent = {name: now[name] - self._start.get(name, 0.0) for name in now}
        spent["rest"] = spent["machine"] - sum(v for k, v in spent.items() if k != "machine")
        return spent
