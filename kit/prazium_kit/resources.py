"""Reads and writes of Prazium's custom resources, the one CR-access layer of the operator and the
API (synchronous; call via asyncio.to_thread or from a thread-pool route)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

from prazium_kit import kube


def get(namespace: str, plural: str, name: str) -> dict[str, Any] | None:
    try:
        obj = kube.custom_objects().get_namespaced_custom_object(
            kube.GROUP, kube.VERSION, namespace, plural, name
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(obj)  # type: ignore[call-overload]


def patch_status(namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
    """A JSON merge patch of status (null removes a field); the client's default for dicts."""
    kube.custom_objects().patch_namespaced_custom_object_status(
        kube.GROUP, kube.VERSION, namespace, plural, name, {"status": status}
    )


def patch_status_at(
    namespace: str, plural: str, name: str, resource_version: str, status: dict[str, Any]
) -> None:
    """patch_status, only if the object is still at resource_version (else ApiException 409)."""
    kube.custom_objects().patch_namespaced_custom_object_status(
        kube.GROUP,
        kube.VERSION,
        namespace,
        plural,
        name,
        {"metadata": {"resourceVersion": resource_version}, "status": status},
    )


def patch_meta(namespace: str, plural: str, name: str, metadata: dict[str, Any]) -> None:
    kube.custom_objects().patch_namespaced_custom_object(
        kube.GROUP, kube.VERSION, namespace, plural, name, {"metadata": metadata}
    )


def replace_status(namespace: str, plural: str, obj: dict[str, Any]) -> None:
    """Replace status guarded by obj's resourceVersion: raises ApiException 409 on a race."""
    kube.custom_objects().replace_namespaced_custom_object_status(
        kube.GROUP, kube.VERSION, namespace, plural, obj["metadata"]["name"], obj
    )


def create(namespace: str, plural: str, obj: dict[str, Any]) -> bool:
    """Create obj; False when it already exists (creation by natural key is idempotent)."""
    try:
        kube.custom_objects().create_namespaced_custom_object(
            kube.GROUP, kube.VERSION, namespace, plural, obj
        )
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise
    return True


def list_by_label(namespace: str, plural: str, selector: str) -> list[dict[str, Any]]:
    found = kube.custom_objects().list_namespaced_custom_object(
        kube.GROUP, kube.VERSION, namespace, plural, label_selector=selector
    )
    return list(found.get("items", []))  # type: ignore[attr-defined]


def is_conflict(exc: BaseException) -> bool:
    return isinstance(exc, ApiException) and exc.status == 409


# Reads and writes the API needs beside the operator's (the API maps ApiException
# to the contract's error codes in prazium_api.cluster.crs).


def create_object(namespace: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
    """Create obj and return it as stored (with its generated name); ApiException on
    any refusal, 409 included."""
    created = kube.custom_objects().create_namespaced_custom_object(
        kube.GROUP, kube.VERSION, namespace, plural, obj
    )
    return dict(created)  # type: ignore[call-overload]


def merge_patch(namespace: str, plural: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch of the object (spec, metadata); returns the object as stored."""
    patched = kube.custom_objects().patch_namespaced_custom_object(
        kube.GROUP, kube.VERSION, namespace, plural, name, patch
    )
    return dict(patched)  # type: ignore[call-overload]


def list_all_namespaces(plural: str) -> list[dict[str, Any]]:
    found = kube.custom_objects().list_cluster_custom_object(kube.GROUP, kube.VERSION, plural)
    return list(found.get("items", []))  # type: ignore[attr-defined]


def watch_object(
    namespace: str, plural: str, name: str, resource_version: str, timeout: float
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event type, object) for changes of one object after resource_version, for at
    most timeout seconds. ApiException (e.g. 410 Gone) ends it: read the object again."""
    watcher = watch.Watch()
    try:
        for event in watcher.stream(
            kube.custom_objects().list_namespaced_custom_object,
            kube.GROUP,
            kube.VERSION,
            namespace,
            plural,
            field_selector=f"metadata.name={name}",
            resource_version=resource_version,
            timeout_seconds=max(1, int(timeout + 0.999)),
            _request_timeout=timeout + 5,
        ):
            candidate = event.get("object")
            if isinstance(candidate, dict) and candidate.get("metadata"):
                yield str(event.get("type")), candidate
            elif event.get("type") == "DELETED":
                yield "DELETED", {}
    finally:
        watcher.stop()
