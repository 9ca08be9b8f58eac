"""The job namespace's Prazium Jobs and Pods, kept current by one watch of each.

The operator looks at every running worker's Job and Pod each second, and at a
verification's every 0.2 s. Read one by one, that is two apiserver requests a look: at
100 runs they were the two requests made most, growing with the number of workers. Two
watches cost the same whatever that number: each change of a Job or Pod arrives once,
and the looks are served from memory here.

An absence here never means gone: until a watch has listed (or after it broke, until it
lists again) it answers None, and so it does for an object it has not delivered yet (a
Job created a moment ago). The caller then reads the apiserver (cachedreads.py).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from prazium_kit import kube
from prazium_operator.executor import cachedreads

log = logging.getLogger(__name__)

# What the operator creates in the job namespace (jobspec.run_labels), Jobs and Pods.
SELECTOR = f"{kube.LABEL_MANAGED_BY}=prazium"
# The Job controller names a Job's Pods with this label.
LABEL_JOB_NAME = "batch.kubernetes.io/job-name"
# The apiserver ends each watch after this long, and the watch starts again from where
# it was; a connection silent for longer than this (and a margin) is given up as broken.
WATCH_SECONDS = 120
READ_MARGIN_SECONDS = 30
# After a failed list or watch, wait this long before listing again (an outage).
RETRY_SECONDS = 1.0


class _Kind:
    """One kind's objects by name, as its watch last said."""

    def __init__(self, kind: str, lister: Callable[[], Callable[..., Any]]) -> None:
        self.kind = kind
        # The client's list method itself: the watch reads its return type off its
        # docstring, so it cannot be wrapped.
        self.lister = lister
        self.lock = threading.Lock()
        self.items: dict[str, Any] = {}
        self.synced = False

    def replace(self, items: list[Any]) -> None:
        with self.lock:
            self.items = {item.metadata.name: item for item in items}
            self.synced = True

    def apply(self, event_type: str, item: Any) -> None:
        with self.lock:
            if event_type == "DELETED":
                self.items.pop(item.metadata.name, None)
            else:
                self.items[item.metadata.name] = item

    def unsynced(self) -> None:
        with self.lock:
            self.synced = False
            self.items = {}


class JobWatch:
    """Jobs and Pods of namespace the operator created, from a watch of each."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._jobs = _Kind("jobs", lambda: client.BatchV1Api().list_namespaced_job)
        self._pods = _Kind("pods", lambda: client.CoreV1Api().list_namespaced_pod)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for kind in (self._jobs, self._pods):
            thread = threading.Thread(
                target=self._follow, args=(kind,), name=f"watch-{kind.kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop following; the threads end at their watch's next event or timeout."""
        self._stopping.set()
        for kind in (self._jobs, self._pods):
            kind.unsynced()

    def job(self, name: str) -> Any | None:
        """Job name as last watched; None when not known here (read the apiserver)."""
        with self._jobs.lock:
            return self._jobs.items.get(name) if self._jobs.synced else None

    def pods_of(self, job_name: str) -> list[Any] | None:
        """Job job_name's Pods as last watched (perhaps none yet); None until the Pod
        watch has listed (read the apiserver)."""
        with self._pods.lock:
            if not self._pods.synced:
                return None
            return [
                pod
                for pod in self._pods.items.values()
                if (pod.metadata.labels or {}).get(LABEL_JOB_NAME) == job_name
            ]

    def _follow(self, kind: _Kind) -> None:
        lister = kind.lister()
        while not self._stopping.is_set():
            try:
                listed = lister(self.namespace, label_selector=SELECTOR)
                if self._stopping.is_set():
                    return
                kind.replace(listed.items)
                self._watch(kind, lister, listed.metadata.resource_version)
            except ApiException as exc:
                # 410: the watch fell too far behind the apiserver's history: list again.
                if exc.status != 410:
                    log.warning("watching %s failed: %s", kind.kind, exc.reason)
            except Exception as exc:  # the connection: an outage, a restart
                log.warning("watching %s failed: %s", kind.kind, exc)
            kind.unsynced()
            self._stopping.wait(RETRY_SECONDS)

    def _watch(self, kind: _Kind, lister: Callable[..., Any], version: str) -> None:
        """Apply kind's changes after version until stopped (raises when it breaks)."""
        while not self._stopping.is_set():
            stream = watch.Watch()
            for event in stream.stream(
                lister,
                self.namespace,
                label_selector=SELECTOR,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS,
                _request_timeout=WATCH_SECONDS + READ_MARGIN_SECONDS,
            ):
                if self._stopping.is_set():
                    return
                if event["type"] != "BOOKMARK":
                    kind.apply(event["type"], event["object"])
            version = stream.resource_version or version


_watches: dict[str, JobWatch] = {}
_watches_lock = threading.Lock()


def of(namespace: str) -> JobWatch:
    """The process's watch of namespace, started on first use."""
    with _watches_lock:
        found = _watches.get(namespace)
        if found is None:
            found = _watches[namespace] = JobWatch(namespace)
            found.start()
        return found


async def pods_of(namespace: str, job_name: str, *, fresh: bool = False) -> list[Any]:
    """Job job_name's Pods: as watched, or read from the apiserver when fresh or not
    watched yet."""
    pods = None if fresh else of(namespace).pods_of(job_name)
    if pods is None:
        listed: Any = await asyncio.to_thread(
            cachedreads.list_pods, namespace, f"{LABEL_JOB_NAME}={job_name}"
        )
        pods = listed.items
    return pods


def stop_all() -> None:
    with _watches_lock:
        for found in _watches.values():
            found.stop()
        _watches.clear()
