"""The API's view of prazium_kit.resources (the one CR-access layer): apiserver
errors mapped to the contract's codes, a bounded wait for the operator (a watch,
not sleeps), and the short-lived Project list snapshot.

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

from prazium_api.errors import ApiError
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


def get(namespace: str, plural: str, name: str, what: str) -> Obj:
    with mapped_errors(what):
        obj = resources.get(namespace, plural, name)
    if obj is None:
        raise ApiError("NOT_FOUND", f"{what} not found")
    return obj


def list_objects(namespace: str, plural: str, label_selector: str = "") -> list[Obj]:
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
    return obj


def patch(namespace: str, plural: str, name: str, merge_patch: Obj, what: str) -> Obj:
    with mapped_errors(what):
        obj = resources.merge_patch(namespace, plural, name, merge_patch)
    project_lists.invalidate(namespace)
    return obj


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
                obj = candidate
                if done(obj):
                    return obj
                if time.monotonic() > deadline:
                    break
        except ApiException:
            pass  # e.g. 410 Gone: the fresh get below restarts the watch
        obj = get(namespace, plural, name, what)
    return obj


class ProjectListCache:
    """A short-lived per-namespace snapshot of the Project list.

    Listing 5,000 Projects from the apiserver takes long enough that a busy UI
    polling page 1 would keep it busy; a snapshot at most list_cache_seconds old
    serves those reads. Writes through this replica drop the snapshot, so a
    client sees its own creates and patches at once; writes through another
    replica or kubectl show up within list_cache_seconds.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[str, tuple[float, list[Obj]]] = {}

    def get(self, namespace: str, max_age: float) -> list[Obj]:
        if max_age > 0:
            with self._lock:
                cached = self._snapshots.get(namespace)
            if cached and time.monotonic() - cached[0] < max_age:
                return cached[1]
        taken = time.monotonic()
        items = list_objects(namespace, PROJECTS)
        if max_age > 0:
            with self._lock:
                self._snapshots[namespace] = (taken, items)
                if len(self._snapshots) > 1000:  # bound memory across many tenants
                    self._snapshots.pop(next(iter(self._snapshots)))
        return items

    def invalidate(self, namespace: str) -> None:
        with self._lock:
            self._snapshots.pop(namespace, None)


project_lists = ProjectListCache()
