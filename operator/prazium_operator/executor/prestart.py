"""Pods created ahead of their work: how many may wait at once, and whose they are.

A task's Job is created while its dependencies still run, a verification's while the
run's last tasks run and merge; their Pods start, import what they need and wait for
their go signal (prazium_operator.go_signal). Waiting Pods use no CPU but a Pod slot
of the node and some memory, so they are bounded: at most max_prestarted wait at once
in one operator (PRAZIUM_MAX_PRESTARTED, default max_workers), beside the max_workers
that run. The node's maxPods must leave room for both (scripts/node.sh). A prestarted
Job carries the label prazium.io/start=prestarted, so an operator that restarts finds
its Jobs again (adopt) and the run's end removes those never used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from prazium_operator.worker_contract import WorkerRequest

LABEL_START = "prazium.io/start"
PRESTARTED = "prestarted"


@dataclass(frozen=True)
class Waiting:
    namespace: str  # the tenant's
    run: str
    created: float  # time.time() at creation: the deadline is extended by the wait


class Room:
    """The waiting Pods of one operator, by Job name (worker and verification Jobs)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(limit, 0)
        self._waiting: dict[str, Waiting] = {}

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def free(self) -> int:
        return max(self.limit - len(self._waiting), 0)

    def holds(self, name: str) -> bool:
        return name in self._waiting

    def take(self, name: str, namespace: str, run: str, created: float | None = None) -> None:
        self._waiting[name] = Waiting(namespace, run, time.time() if created is None else created)

    def release(self, name: str) -> Waiting | None:
        """The Pod got its go signal or was removed: its place is free."""
        return self._waiting.pop(name, None)

    def of_run(self, namespace: str, run: str) -> list[str]:
        return [n for n, w in self._waiting.items() if (w.namespace, w.run) == (namespace, run)]

    def forget_run(self, namespace: str, run: str) -> None:
        for name in self.of_run(namespace, run):
            del self._waiting[name]

    def clear(self) -> None:
        self._waiting.clear()


def extended_deadline(deadline_seconds: int, created: float, now: float | None = None) -> int:
    """The Job's activeDeadlineSeconds once its work begins: the time it waited (the Job
    controller counts from its start) plus the work's own deadline, whole seconds up."""
    waited = max((time.time() if now is None else now) - created, 0.0)
    return deadline_seconds + int(waited) + 1


@runtime_checkable
class Prestarter(Protocol):
    """An executor that can create a task's Job ahead (executor/kubernetes.py)."""

    room: Room

    async def prestart(self, request: WorkerRequest, owner: dict[str, Any]) -> bool: ...

    async def discard(self, request: WorkerRequest, owner: dict[str, Any]) -> None: ...

    async def adopt_prestarted(self, namespace: str, run: str) -> dict[str, str]: ...

    async def release_run(self, namespace: str, run: str) -> None: ...


def prestarter(executor: object) -> Prestarter | None:
    """The executor, if it creates Jobs ahead; None for one that does not (local)."""
    return executor if isinstance(executor, Prestarter) else None
