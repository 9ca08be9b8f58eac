"""Pods created ahead of their work: how many may wait at once, and whose they are.

A task's Job is created while its dependencies still run, a verification's while the
run's last tasks run and merge; their Pods start, import what they need and wait for
their go signal (prazium_operator.go_signal). Waiting Pods use no CPU but a Pod slot
of the node and some memory, so they are bounded: at most max_prestarted wait at once
in one operator (PRAZIUM_MAX_PRESTARTED, default max_workers), beside the max_workers
that run. They wait only in room on the nodes that the free worker slots will not
need, and a task ready to start that finds no room takes it from the newest waiting
Pod (noderoom.py, discard_for_room). A prestarted
Job carries the label prazium.io/start=prestarted, so an operator that restarts finds
its Jobs again (adopt) and the run's end removes those never used.

A Job's activeDeadlineSeconds counts from its start, so a Pod created ahead spends its
deadline while it waits: its go extends the deadline by the wait, and a Pod that has
waited half its deadline has it extended before then (keep_alive), however long its
task waits for a worker slot: with hundreds of runs sharing the slots in turn, a
waiting Pod would otherwise be stopped before its work began.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_operator.executor.noderoom import NodeRoom
from prazium_operator.worker_contract import WorkerRequest

log = logging.getLogger(__name__)

LABEL_START = "prazium.io/start"
PRESTARTED = "prestarted"


@dataclass(frozen=True)
class Waiting:
    namespace: str  # the tenant's
    run: str
    created: float  # time.time() at creation: the deadline is extended by the wait
    work_seconds: int = 0  # the work's own deadline (0: none to keep)
    active_seconds: int = 0  # the Job's activeDeadlineSeconds as it stands

    def due(self, now: float) -> bool:
        """Whether the Job's deadline leaves less than half the work's own deadline."""
        if self.work_seconds <= 0:
            return False
        return now >= self.created + self.active_seconds - self.work_seconds / 2


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

    def take(
        self,
        name: str,
        namespace: str,
        run: str,
        created: float | None = None,
        *,
        deadline_seconds: int = 0,
        active_seconds: int | None = None,
    ) -> None:
        """name waits, created with activeDeadlineSeconds active_seconds (default:
        deadline_seconds, the work's own deadline, which keep_alive keeps ahead)."""
        self._waiting[name] = Waiting(
            namespace,
            run,
            time.time() if created is None else created,
            deadline_seconds,
            deadline_seconds if active_seconds is None else active_seconds,
        )

    def release(self, name: str) -> Waiting | None:
        """The Pod got its go signal or was removed: its place is free."""
        return self._waiting.pop(name, None)

    def due(self, now: float) -> dict[str, int]:
        """Job name -> the activeDeadlineSeconds to give it now, for each waiting Job
        past half its deadline (Waiting.due): the work keeps its whole deadline from
        now."""
        return {
            name: extended_deadline(waiting.work_seconds, waiting.created, now)
            for name, waiting in self._waiting.items()
            if waiting.due(now)
        }

    def extended(self, name: str, active_seconds: int) -> None:
        """name's Job was given activeDeadlineSeconds active_seconds (if it still waits)."""
        waiting = self._waiting.get(name)
        if waiting is not None:
            self._waiting[name] = dataclasses.replace(waiting, active_seconds=active_seconds)

    def newest(self) -> str | None:
        """The Job that waits the shortest time: the first given up when a task ready
        to start finds no room on the nodes (noderoom.py)."""
        if not self._waiting:
            return None
        return max(self._waiting, key=lambda name: self._waiting[name].created)

    def of_run(self, namespace: str, run: str) -> list[str]:
        return [n for n, w in self._waiting.items() if (w.namespace, w.run) == (namespace, run)]

    def forget_run(self, namespace: str, run: str) -> None:
        for name in self.of_run(namespace, run):
            del self._waiting[name]

    def clear(self) -> None:
        self._waiting.clear()


async def discard_for_room(room: Room, nodes: NodeRoom, job_namespace: str) -> str | None:
    """Delete the newest waiting Job, its Pod's room for work that is ready now,
    unless one deleted so is still going (its room is coming); the Job deleted, if any.
    Its task starts the usual way later (a new Job), a verification likewise."""
    name = room.newest()
    if name is None or nodes.freeing:
        return None
    room.release(name)
    nodes.discarding(name)
    try:
        await asyncio.to_thread(
            client.BatchV1Api().delete_namespaced_job,
            name,
            job_namespace,
            body=client.V1DeleteOptions(propagation_policy="Background", grace_period_seconds=0),
        )
    except ApiException as exc:
        if exc.status != 404:
            raise
    log.info("deleted Job %s created ahead: its room is for a task ready to start", name)
    return name


async def keep_alive(room: Room, job_namespace: str) -> None:
    """Extend the deadline of each waiting Job past half of it (Room.due). A Job that is
    gone is left to those that look at it (its task's start finds it lost)."""
    # Every scheduling round of every executing run calls this: an API client only
    # when a Job is due.
    for name, active in room.due(time.time()).items():
        try:
            await asyncio.to_thread(
                client.BatchV1Api().patch_namespaced_job,
                name,
                job_namespace,
                {"spec": {"activeDeadlineSeconds": active}},
            )
        except ApiException as exc:
            # Tried again on the next call, while half its deadline is still left.
            log.warning("could not extend the deadline of waiting Job %s: %s", name, exc.reason)
            continue
        room.extended(name, active)
        log.info("Job %s still waits for its go signal: its deadline is now %d s", name, active)


def extended_deadline(deadline_seconds: int, created: float, now: float | None = None) -> int:
    """The Job's activeDeadlineSeconds once its work begins: the time it waited (the Job
    controller counts from its start) plus the work's own deadline, whole seconds up."""
    waited = max((time.time() if now is None else now) - created, 0.0)
    return deadline_seconds + int(waited) + 1


@runtime_checkable
class Prestarter(Protocol):
    """An executor that can create a task's Job ahead (executor/kubernetes.py)."""

    room: Room
    node_room: NodeRoom
    max_workers: int

    async def prestart(self, request: WorkerRequest, owner: dict[str, Any]) -> bool: ...

    async def discard(self, request: WorkerRequest, owner: dict[str, Any]) -> None: ...

    async def adopt_prestarted(self, namespace: str, run: str) -> dict[str, str]: ...

    async def release_run(self, namespace: str, run: str) -> None: ...


def prestarter(executor: object) -> Prestarter | None:
    """The executor, if it creates Jobs ahead; None for one that does not (local)."""
    return executor if isinstance(executor, Prestarter) else None
