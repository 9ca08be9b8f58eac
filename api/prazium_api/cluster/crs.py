"""The API's view of prazium_kit.resources (the one CR-access layer): apiserver
errors mapped to the contract's codes, a bounded wait for the operator (a watch,
not sleeps), and reads served from the watch-fed informers (informer.py) when
they are on (PRAZIUM_READ_CACHE), else from the apiserver (Project lists then
from a short-lived snapshot). Every object a write returns is applied to the
informer, so reads through this replica see its own writes.

Objects come and go as typed resources (prazium_kit.kinds): read with the kit's
spec and status models, written through its spec models. The raw objects stay
here, at the Kubernetes edge.

The kubernetes client is synchronous: call these from `def` routes (FastAPI runs
them in its thread pool) or through asyncio.to_thread.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel

from prazium_api.cluster.informer import informers
from prazium_api.contract.errors import ApiError
from prazium_kit import kube, resources
from prazium_kit.kinds import PROJECT, Kind, Project, Resource
from prazium_kit.types import Obj

S = TypeVar("S", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)


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


def cached(namespace: str, kind: Kind[S, T], name: str) -> Resource[S, T] | None:
    """The object as the watch-fed read cache holds it, without any I/O (so an async
    route may call it in the event loop); None: ask get()."""
    informer = informers.serving(kind)
    return None if informer is None else informer.get(namespace, name)


def get(namespace: str, kind: Kind[S, T], name: str, what: str) -> Resource[S, T]:
    informer = informers.serving(kind)
    if informer is not None:
        cached = informer.get(namespace, name)
        if cached is not None:
            return cached
    with mapped_errors(what):
        obj = resources.get(namespace, kind.plural, name)
    if obj is None:
        raise ApiError("NOT_FOUND", f"{what} not found")
    return informers.applied(kind.of(obj))


def list_objects(
    namespace: str, kind: Kind[S, T], label_selector: str = ""
) -> list[Resource[S, T]]:
    informer = informers.serving(kind)
    if informer is not None:
        if not label_selector:
            return informer.items(namespace)
        key, _, value = label_selector.partition("=")
        if key == informer.index_label and value and "," not in value:
            return informer.by_label(namespace, value)
    with mapped_errors(kind.plural):
        found = resources.list_by_label(namespace, kind.plural, label_selector)
    return [kind.of(obj) for obj in found]


def list_all_namespaces(kind: Kind[S, T]) -> list[Resource[S, T]]:
    with mapped_errors(kind.plural):
        return [kind.of(obj) for obj in resources.list_all_namespaces(kind.plural)]


def create(namespace: str, kind: Kind[S, T], metadata: Obj, spec: S, what: str) -> Resource[S, T]:
    """Create an object of kind with metadata (name or generateName, labels, owners)
    and spec, written as it was set (no defaults added: the CRD applies its own)."""
    body = {
        "apiVersion": kube.API_VERSION,
        "kind": kind.name,
        "metadata": metadata,
        "spec": spec.model_dump(by_alias=True, exclude_unset=True),
    }
    with mapped_errors(what):
        obj = resources.create_object(namespace, kind.plural, body)
    project_lists.invalidate(namespace)
    return informers.applied(kind.of(obj))


def patch_spec(
    namespace: str, kind: Kind[S, T], name: str, what: str, **changes: object
) -> Resource[S, T]:
    """A merge patch of the named spec fields (Python names, each validated against
    the kind's spec model; nested objects as set, without nulls)."""
    return _patch(namespace, kind, name, {"spec": spec_changes(kind, **changes)}, what)


def spec_changes(kind: Kind[S, T], **changes: object) -> Obj:
    """The spec fields to merge (by alias), each checked against the kind's spec model:
    its type and constraints; an unknown field is refused (ValidationError). A nested
    model is written as set, without nulls, so no field the merge would remove."""
    model = kind.spec_model
    partial = model.model_construct()
    for field, value in changes.items():
        # Checks one field's value against its type and constraints (an unknown field
        # is refused too), and marks it set.
        model.__pydantic_validator__.validate_assignment(partial, field, value)
    return partial.model_dump(by_alias=True, exclude_unset=True, exclude_none=True)


def _patch(
    namespace: str, kind: Kind[S, T], name: str, merge_patch: Obj, what: str
) -> Resource[S, T]:
    with mapped_errors(what):
        obj = resources.merge_patch(namespace, kind.plural, name, merge_patch)
    project_lists.invalidate(namespace)
    return informers.applied(kind.of(obj))


def wait_until(
    namespace: str,
    kind: Kind[S, T],
    name: str,
    done: Callable[[Resource[S, T]], bool],
    timeout: float,
    what: str,
) -> Resource[S, T] | None:
    """Watch one object until done(it); the last copy seen, or None on timeout."""
    deadline = time.monotonic() + timeout
    current = get(namespace, kind, name, what)
    while not done(current):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            for event, candidate in resources.watch_object(
                namespace, kind.plural, name, current.resource_version, remaining
            ):
                if event == "DELETED":
                    raise ApiError("NOT_FOUND", f"{what} not found")
                current = informers.applied(kind.of(candidate))
                if done(current):
                    return current
                if time.monotonic() > deadline:
                    break
        except ApiException:
            pass  # e.g. 410 Gone: the fresh get below restarts the watch
        current = get(namespace, kind, name, what)
    return current


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
        self._snapshots: dict[str, tuple[float, list[Project]]] = {}
        self._sorted: dict[str, tuple[int, list[Project]]] = {}

    def get(self, namespace: str, max_age: float) -> list[Project]:
        informer = informers.serving(PROJECT)
        if informer is not None:
            return self._from_informer(namespace)
        if max_age > 0:
            with self._lock:
                cached = self._snapshots.get(namespace)
            if cached and time.monotonic() - cached[0] < max_age:
                return cached[1]
        taken = time.monotonic()
        items = newest_first(list_objects(namespace, PROJECT))
        if max_age > 0:
            with self._lock:
                self._snapshots[namespace] = (taken, items)
                if len(self._snapshots) > 1000:  # bound memory across many tenants
                    self._snapshots.pop(next(iter(self._snapshots)))
        return items

    def _from_informer(self, namespace: str) -> list[Project]:
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


def newest_first(items: list[Project]) -> list[Project]:
    return sorted(items, key=lambda p: (p.created_at or "", p.name), reverse=True)


project_lists = ProjectListCache()
