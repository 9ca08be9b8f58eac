"""Watch-fed caches of Projects, Runs and Tasks: an informer per API replica (issue 15).

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

Objects handed out are shared: callers must not mutate them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from prazium_kit import kube
from prazium_kit.kube import LABEL_PROJECT, LABEL_RUN, PROJECTS, RUNS, TASKS
from prazium_kit.types import Obj

log = logging.getLogger(__name__)
WATCH_SECONDS = 300
RETRY_SECONDS = 1.0


def _version(obj: Obj) -> int:
    """resourceVersion as a number (etcd's revision); -1 when it is not one."""
    try:
        return int(obj["metadata"].get("resourceVersion") or -1)
    except (TypeError, ValueError):
        return -1


class Informer:
    """One kind's objects, by namespace and name, kept current by a watch.

    index_label: a label whose value groups objects for `by_label` (a Run's Tasks)."""

    def __init__(self, plural: str, index_label: str | None = None) -> None:
        self.plural, self.index_label = plural, index_label
        self._lock = threading.Lock()
        self._objects: dict[str, dict[str, Obj]] = defaultdict(dict)
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

    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get(namespace, {}).get(name)

    def items(self, namespace: str) -> list[Obj]:
        with self._lock:
            return list(self._objects.get(namespace, {}).values())

    def by_label(self, namespace: str, value: str) -> list[Obj]:
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

    def apply(self, obj: Obj) -> None:
        """Keep obj unless a newer copy (by resourceVersion) is already held."""
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        with self._lock:
            held = self._objects[namespace].get(name)
            if held is not None and _version(held) >= _version(obj) >= 0:
                return
            self._objects[namespace][name] = obj
            old, new = self._label(held or {}), self._label(obj)
            if old is not None and old != new:
                self._grouped[(namespace, old)].discard(name)
            if new is not None:
                self._grouped[(namespace, new)].add(name)
            self._changes[namespace] += 1

    def forget(self, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        with self._lock:
            held = self._objects.get(namespace, {}).pop(name, None)
            if held is not None:
                label = self._label(held)
                if label is not None:
                    self._grouped[(namespace, label)].discard(name)
                self._changes[namespace] += 1

    def _label(self, obj: Obj) -> str | None:
        if self.index_label is None:
            return None
        value = ((obj.get("metadata") or {}).get("labels") or {}).get(self.index_label)
        return str(value) if value else None

    def _replace_all(self, items: list[Obj]) -> None:
        objects: dict[str, dict[str, Obj]] = defaultdict(dict)
        grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
        for obj in items:
            meta = obj["metadata"]
            objects[meta["namespace"]][meta["name"]] = obj
            label = self._label(obj)
            if label is not None:
                grouped[(meta["namespace"], label)].add(meta["name"])
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
        self._replace_all(list(found.get("items", [])))
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
                    self.forget(obj)
                elif kind in ("ADDED", "MODIFIED"):
                    self.apply(obj)
                if self._stopped.is_set():
                    return


class Informers:
    """The three kinds the facade reads; `start` at app start-up, `stop` at shutdown."""

    def __init__(self) -> None:
        self._fresh()
        self.enabled = False

    def _fresh(self) -> None:
        self.projects = Informer(PROJECTS)
        self.runs = Informer(RUNS, index_label=LABEL_PROJECT)
        self.tasks = Informer(TASKS, index_label=LABEL_RUN)
        self.by_plural = {PROJECTS: self.projects, RUNS: self.runs, TASKS: self.tasks}

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

    def serving(self, plural: str) -> Informer | None:
        """The informer to read plural from, or None: read the apiserver."""
        informer = self.by_plural.get(plural)
        if not self.enabled or informer is None or not informer.synced:
            return None
        return informer

    def applied(self, plural: str, obj: Obj) -> Obj:
        """Keep an object a write (or a read of the apiserver) returned; returns obj."""
        informer = self.by_plural.get(plural)
        if self.enabled and informer is not None:
            informer.apply(obj)
        return obj


informers = Informers()
