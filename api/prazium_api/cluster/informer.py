"""Watch-fed caches of Projects, Runs and Tasks: an informer per API replica, so that
reads of a page or an object cost no apiserver round trip.

One background thread per kind lists the kind once across all namespaces, then
watches it from that list's resourceVersion, keeping every object in memory by
namespace (and Tasks and Runs by their run / project too). Reads are served from
here: a page of 20 out of 5,000 Projects no longer lists 5,000 from the apiserver.

Consistency:
* read-your-writes through this replica: every object a write returns (create,
  patch, the object a bounded wait ends on) is applied here at once (`apply`), so
  the next read through this replica sees it, never an older copy (a copy older
  than the one held, by resourceVersion, is ignored);
* writes by others (the operator, kubectl, another replica) show up when the watch
  delivers them, typically milliseconds;
* a name not found here is read from the apiserver once (and kept), so an object
  created elsewhere an instant ago is not answered 404;
* until the first list is in (start-up, or after a 410 Gone relist started), reads
  go to the apiserver (`synced` is False).

Objects are kept as typed resources (prazium_kit.kinds): a reader's first look at
an object's spec or status parses it, every later reader of that version gets the
parsed models. Objects handed out are shared: callers must not mutate them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from kubernetes import watch
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel

from prazium_kit import kube
from prazium_kit.kinds import PROJECT, RUN, TASK, Kind, Resource
from prazium_kit.kube import LABEL_PROJECT, LABEL_RUN
from prazium_kit.models import ProjectSpec, ProjectStatus, RunSpec, RunStatus, TaskSpec, TaskStatus
from prazium_kit.types import Obj

log = logging.getLogger(__name__)
WATCH_SECONDS = 300
RETRY_SECONDS = 1.0
S = TypeVar("S", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)


def _version(resource: Resource[Any, Any]) -> int:
    """resourceVersion as a number (etcd's revision); -1 when it is not one."""
    try:
        return int(resource.resource_version or -1)
    except ValueError:
        return -1


class Informer(Generic[S, T]):
    """One kind's objects, by namespace and name, kept current by a watch.

    index_label: a label whose value groups objects for `by_label` (a Run's Tasks)."""

    def __init__(self, kind: Kind[S, T], index_label: str | None = None) -> None:
        self.kind, self.index_label = kind, index_label
        self.plural = kind.plural
        # Called after each (re)list (the app freezes what it holds: server/gcpolicy.py).
        self.on_listed: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, Resource[S, T]]] = defaultdict(dict)
        self._grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._changes: dict[str, int] = defaultdict(int)
        self._synced = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: watch.Watch | None = None

    # -- reads ---------------------------------------------------------------

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def get(self, namespace: str, name: str) -> Resource[S, T] | None:
        with self._lock:
            return self._objects.get(namespace, {}).get(name)

    def items(self, namespace: str) -> list[Resource[S, T]]:
        with self._lock:
            return list(self._objects.get(namespace, {}).values())

    def by_label(self, namespace: str, value: str) -> list[Resource[S, T]]:
        with self._lock:
            names = self._grouped.get((namespace, value), set())
            objects = self._objects.get(namespace, {})
            return [objects[n] for n in names if n in objects]

    def changes(self, namespace: str) -> int:
        """A counter that moves whenever an object of namespace changes (for caches
        derived from a namespace's list, e.g. the sorted Project list)."""
        with self._lock:
            return self._changes[namespace]

    # -- writes --------------------------------------------------------------

    def apply(self, resource: Resource[S, T]) -> None:
        """Keep resource unless a newer copy (by resourceVersion) is already held."""
        namespace, name = resource.namespace, resource.metadata.get("name")
        if not namespace or not name:
            return
        with self._lock:
            held = self._objects[namespace].get(name)
            if held is not None and _version(held) >= _version(resource) >= 0:
                return
            self._objects[namespace][name] = resource
            old = None if held is None else self._label(held)
            new = self._label(resource)
            if old is not None and old != new:
                self._grouped[(namespace, old)].discard(name)
            if new is not None:
                self._grouped[(namespace, new)].add(name)
            self._changes[namespace] += 1

    def forget(self, resource: Resource[S, T]) -> None:
        namespace, name = resource.namespace, resource.metadata.get("name")
        if not namespace or not name:
            return
        with self._lock:
            held = self._objects.get(namespace, {}).pop(name, None)
            if held is not None:
                label = self._label(held)
                if label is not None:
                    self._grouped[(namespace, label)].discard(name)
                self._changes[namespace] += 1

    def _label(self, resource: Resource[S, T]) -> str | None:
        if self.index_label is None:
            return None
        value = resource.labels.get(self.index_label)
        return str(value) if value else None

    def _replace_all(self, items: list[Resource[S, T]]) -> None:
        objects: dict[str, dict[str, Resource[S, T]]] = defaultdict(dict)
        grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
        for resource in items:
            namespace, name = resource.namespace, resource.name
            objects[namespace][name] = resource
            label = self._label(resource)
            if label is not None:
                grouped[(namespace, label)].add(name)
        with self._lock:
            for namespace in set(self._objects) | set(objects):
                self._changes[namespace] += 1
            self._objects, self._grouped = objects, grouped

    # -- the watch -----------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{self.plural}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._watcher is not None:
            self._watcher.stop()

    def _run(self) -> None:
        while not self._stopped.is_set():
            try:
                version = self._list()
                self._synced.set()
                self._watch(version)
            except ApiException as exc:
                if exc.status == 410:  # compacted: list again
                    continue
                log.warning("%s informer: apiserver error %s; relisting", self.plural, exc.status)
                self._stopped.wait(RETRY_SECONDS)
            except Exception:  # the thread must outlive any one failure
                log.exception("%s informer failed; relisting", self.plural)
                self._stopped.wait(RETRY_SECONDS)

    def _list(self) -> str:
        found: Obj = kube.custom_objects().list_cluster_custom_object(  # type: ignore[assignment]
            kube.GROUP, kube.VERSION, self.plural
        )
        self._replace_all([self.kind.of(obj) for obj in found.get("items", [])])
        if self.on_listed is not None:
            self.on_listed()
        return str(found["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> None:
        while not self._stopped.is_set():
            self._watcher = watch.Watch()
            for event in self._watcher.stream(
                kube.custom_objects().list_cluster_custom_object,
                kube.GROUP,
                kube.VERSION,
                self.plural,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS,
                _request_timeout=WATCH_SECONDS + 30,
            ):
                kind, obj = event.get("type"), event.get("object")
                if kind == "ERROR":
                    code = obj.get("code") if isinstance(obj, dict) else None
                    raise ApiException(status=code or 500, reason="watch error")
                if not isinstance(obj, dict) or not obj.get("metadata"):
                    continue
                version = obj["metadata"].get("resourceVersion") or version
                if kind == "DELETED":
                    self.forget(self.kind.of(obj))
                elif kind in ("ADDED", "MODIFIED"):
                    self.apply(self.kind.of(obj))
                if self._stopped.is_set():
                    return


class Informers:
    """The three kinds the facade reads; `start` at app start-up, `stop` at shutdown."""

    def __init__(self) -> None:
        # Called after any kind's (re)list (set by the app before start).
        self.on_listed: Callable[[], None] | None = None
        self._fresh()
        self.enabled = False

    def _fresh(self) -> None:
        self.projects: Informer[ProjectSpec, ProjectStatus] = Informer(PROJECT)
        self.runs: Informer[RunSpec, RunStatus] = Informer(RUN, index_label=LABEL_PROJECT)
        self.tasks: Informer[TaskSpec, TaskStatus] = Informer(TASK, index_label=LABEL_RUN)
        self.by_plural: dict[str, Informer[Any, Any]] = {
            informer.plural: informer for informer in (self.projects, self.runs, self.tasks)
        }
        for informer in self.by_plural.values():
            informer.on_listed = self.on_listed

    def start(self, sync_timeout: float = 5.0) -> None:
        """Start watching (an app started again in one process starts afresh) and wait,
        at most sync_timeout, for the first lists."""
        self._fresh()
        self.enabled = True
        for informer in self.by_plural.values():
            informer.start()
        deadline = time.monotonic() + sync_timeout
        for informer in self.by_plural.values():
            informer.wait_synced(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self.enabled = False
        for informer in self.by_plural.values():
            informer.stop()

    def serving(self, kind: Kind[S, T]) -> Informer[S, T] | None:
        """The informer to read kind from, or None: read the apiserver."""
        informer: Informer[S, T] | None = self.by_plural.get(kind.plural)
        if not self.enabled or informer is None or not informer.synced:
            return None
        return informer

    def applied(self, resource: Resource[S, T]) -> Resource[S, T]:
        """Keep a resource a write (or a read of the apiserver) returned; returns it."""
        informer: Informer[S, T] | None = self.by_plural.get(resource.kind.plural)
        if self.enabled and informer is not None:
            informer.apply(resource)
        return resource


informers = Informers()
