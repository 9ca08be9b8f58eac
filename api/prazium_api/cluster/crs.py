"""The API's view of prazium_kit.resources (the one CR-access layer): apiserver
errors mapped to the contract's codes, a bounded wait for the operator (a watch,
not sleeps), and reads served from the watch-fed informers (informer.py) when
they are on (PRAZIUM_READ_CACHE), else from the apiserver (Project lists then
from a short-lived snapshot). Every object a write returns is applied to the
informer, so reads through this replica see its own writes.

The kubernetes client is synchronous: call these from `def` routes (FastAPI runs
them in its thread pool) or through asyncio.to_thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kubernetes.client.exceptions import ApiException

from prazium_api.cluster.informer import informers
from prazium_api.contract.errors import ApiError
from prazium_kit import kube, resources
from prazium_kit.kube import PROJECTS, RUNS, TASKS
from prazium_kit.types import Obj

KIND_BY_PLURAL = {PROJECTS: "Project", RUNS: "Run", TASKS: "Task"}


@contextmanager
def mapped_errors(what: str) -> Iterator[None]:
    """apiserver status -> contract error; the apiserver's message names the field."""
    try:
        yield
    except ApiException as exc:
        raise _to_api_error(exc, what) from exc


def _to_api_error(exc: ApiException, what: str) -> ApiError:
    message = exc.reason or "error"
    try:
        body = json.loads(exc.body or "{}")
        message = body.get("message") or message
    except (ValueError, AttributeError):
        pass
    if exc.status == 404:
        return ApiError("NOT_FOUND", f"{what} not found")
    if exc.status == 409:
        return ApiError("CONFLICT", f"{what}: {message}")
    if exc.status in (400, 422):
        return ApiError("VALIDATION_ERROR", f"{what}: {message}")
    return ApiError("INTERNAL_ERROR", f"Kubernetes API error ({exc.status}) on {what}")


def cached(namespace: str, plural: str, name: str) -> Obj | None:
    """The object as the watch-fed read cache holds it, without any I/O (so an async
    route may call it in the event loop); None: ask get()."""
    informer = informers.serving(plural)
    return None if informer is None else informer.get(namespace, name)


def get(namespace: str, plural: str, name: str, what: str) -> Obj:
    informer = informers.serving(plural)
    if informer is not None:
        cached = informer.get(namespace, name)
        if cached is not None:
            return cached
    with mapped_errors(what):
        obj = resources.get(namespace, plural, name)
    if obj is None:
        raise ApiError("NOT_FOUND", f"{what} not found")
    return informers.applied(plural, obj)


def list_objects(namespace: str, plural: str, label_selector: str = "") -> list[Obj]:
    informer = informers.serving(plural)
    if informer is not None:
        if not label_selector:
            return informer.items(namespace)
        key, _, value = label_selector.partition("=")
        if key == informer.index_label and value and "," not in value:
            return informer.by_label(namespace, value)
    with mapped_errors(plural):
        return resources.list_by_label(namespace, plural, label_selector)


def list_all_namespaces(plural: str) -> list[Obj]:
    with mapped_errors(plural):
        return resources.list_all_namespaces(plural)


def create(namespace: str, plural: str, body: Obj, what: str) -> Obj:
    body = {"apiVersion": kube.API_VERSION, "kind": KIND_BY_PLURAL[plural], **body}
    with mapped_errors(what):
        obj = resources.create_object(namespace, plural, body)
    project_lists.invalidate(namespace)
    return informers.applied(plural, obj)


def patch(namespace: str, plural: str, name: str, merge_patch: Obj, what: str) -> Obj:
    with mapped_errors(what):
        obj = resources.merge_patch(namespace, plural, name, merge_patch)
    project_lists.invalidate(namespace)
    return informers.applied(plural, obj)


def wait_until(
    namespace: str, plural: str, name: str, done: Callable[[Obj], bool], timeout: float, what: str
) -> Obj | None:
    """Watch one object until done(obj); the last object seen, or None on timeout."""
    deadline = time.monotonic() + timeout
    obj = get(namespace, plural, name, what)
    while not done(obj):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            for kind, candidate in resources.watch_object(
                namespace, plural, name, obj["metadata"]["resourceVersion"], remaining
            ):
                if kind == "DELETED":
                    raise ApiError("NOT_FOUND", f"{what} not found")
                obj = informers.applied(plural, candidate)
                if done(obj):
                    return obj
                if time.monotonic() > deadline:
                    break
        except ApiException:
            pass  # e.g. 410 Gone: the fresh get below restarts the watch
        obj = get(namespace, plural, name, what)
    return obj


class ProjectListCache:
    """A namespace's Projects, newest first.

    With the informers on: a sorted copy of the informer's namespace, sorted again
    only when the namespace changed. Off: a short-lived snapshot of an apiserver
    list (listing 5,000 Projects takes long enough that a UI polling page 1 would
    keep the apiserver busy), at most list_cache_seconds old; writes through this
    replica drop it, writes elsewhere show up within list_cache_seconds.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[str, tuple[float, list[Obj]]] = {}
        self._sorted: dict[str, tuple[int, list[Obj]]] = {}

    def get(self, namespace: str, max_age: float) -> list[Obj]:
        informer = informers.serving(PROJECTS)
        if informer is not None:
            return self._from_informer(namespace)
        if max_age > 0:
            with self._lock:
                cached = self._snapshots.get(namespace)
            if cached and time.monotonic() - cached[0] < max_age:
                return cached[1]
        taken = time.monotonic()
        items = newest_first(list_objects(namespace, PROJECTS))
        if max_age > 0:
            with self._lock:
                self._snapshots[namespace] = (taken, items)
                if len(self._snapshots) > 1000:  # bound memory across many tenants
                    self._snapshots.pop(next(iter(self._snapshots)))
        return items

    def _from_informer(self, namespace: str) -> list[Obj]:
        informer = informers.projects
        changes = informer.changes(namespace)
        with self._lock:
            cached = self._sorted.get(namespace)
        if cached and cached[0] == changes:
            return cached[1]
        items = newest_first(informer.items(namespace))
        with self._lock:
            self._sorted[namespace] = (changes, items)
            if len(self._sorted) > 1000:
                self._sorted.pop(next(iter(self._sorted)))
        return items

    def invalidate(self, namespace: str) -> None:
        with self._lock:
            self._snapshots.pop(namespace, None)


def newest_first(items: list[Obj]) -> list[Obj]:
    return sorted(
        items,
        key=lambda o: (o["metadata"].get("creationTimestamp", ""), o["metadata"]["name"]),
        reverse=True,
    )


project_lists = ProjectListCache()
