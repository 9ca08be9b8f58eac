"""Who is asking: the worker Pod behind a proxy client's address.

A worker Pod is known by its address (the Pod's IP as the proxy sees it: Pods talk
to the proxy without address translation) and the apiserver's record of it: a Pod in
the job namespace labelled prazium.io/role=worker, whose annotations the operator
wrote when it made the Job (executor/sandboxing.py): the task, run, attempt and
the Project's egress entries at task start. Untrusted code in the Pod can change
none of these (it has no API token), nor its address (no capabilities).

A Pod's address reaches the apiserver a moment after its containers start, so a
lookup that finds nothing is repeated for a few seconds before the client is
refused. Answers are cached briefly: one lookup per Pod, not per connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from kubernetes import client

log = logging.getLogger(__name__)

ROLE_LABEL = "prazium.io/role"
TASK_NAMESPACE_LABEL = "prazium.io/task-namespace"
# Pod annotations the operator writes (executor/sandboxing.py).
TASK_NAME = "prazium.io/task-name"
TASK_ID = "prazium.io/task-id"
RUN_NAME = "prazium.io/run-name"
ATTEMPT = "prazium.io/attempt"
EGRESS = "prazium.io/egress"
CACHE_SECONDS = 5.0
LOOKUP_SECONDS = 6.0
LOOKUP_INTERVAL = 0.5


@dataclass(frozen=True)
class Worker:
    pod: str
    namespace: str  # the tenant's, where the Task lives
    run: str
    task_name: str  # the Task CR
    task_id: str  # the plan's id (task_001): names the attempt's files
    attempt: int
    egress: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.namespace}/{self.task_name} attempt {self.attempt} (Pod {self.pod})"


def worker_of(pod: Any) -> Worker | None:
    """The worker a Pod object runs, None for any other Pod."""
    meta = pod.metadata
    labels, notes = meta.labels or {}, meta.annotations or {}
    if labels.get(ROLE_LABEL) != "worker" or meta.deletion_timestamp is not None:
        return None
    if (pod.status.phase if pod.status else None) not in ("Pending", "Running"):
        return None
    try:
        entries = json.loads(notes.get(EGRESS, "[]"))
        attempt = int(notes[ATTEMPT])
        worker = Worker(
            pod=meta.name,
            namespace=labels[TASK_NAMESPACE_LABEL],
            run=notes[RUN_NAME],
            task_name=notes[TASK_NAME],
            task_id=notes[TASK_ID],
            attempt=attempt,
            egress=tuple(str(e) for e in entries),
        )
    except (KeyError, ValueError, TypeError):
        return None
    return worker


class Directory:
    """Pod address -> Worker, from the apiserver (pods in the job namespace).

    Any Pod on the node may open a connection to the proxy (the host firewall lets every
    Pod reach its port): connections from one address share one lookup, and an address
    that turned out to be no worker is answered from the cache for a while, so no Pod
    can turn connections into apiserver requests."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._cache: dict[str, tuple[float, Worker | None]] = {}
        self._pending: dict[str, asyncio.Future[Worker | None]] = {}

    async def lookup(self, address: str) -> Worker | None:
        cached = self._cache.get(address)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        pending = self._pending.get(address)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Worker | None] = asyncio.get_running_loop().create_future()
        self._pending[address] = future
        try:
            worker = await self._search(address)
            self._cache[address] = (time.monotonic() + CACHE_SECONDS, worker)
            future.set_result(worker)
            return worker
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._pending[address]

    async def _search(self, address: str) -> Worker | None:
        deadline = time.monotonic() + LOOKUP_SECONDS
        while True:
            worker = await asyncio.to_thread(self._find, address)
            if worker is not None or time.monotonic() >= deadline:
                return worker
            await asyncio.sleep(LOOKUP_INTERVAL)

    def _find(self, address: str) -> Worker | None:
        pods: Any = client.CoreV1Api().list_namespaced_pod(
            self.namespace, field_selector=f"status.podIP={address}"
        )
        for pod in pods.items:
            worker = worker_of(pod)
            if worker is not None:
                return worker
        return None
