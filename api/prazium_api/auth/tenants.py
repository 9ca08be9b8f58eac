"""Is a key's tenant still there? A tenant is a namespace; a key whose namespace
was deleted (or is being deleted) no longer names anything it could act on.

Such a key gets 401 UNAUTHORIZED (reason TENANT_REMOVED), not 403: the
credential itself has become invalid - no other permission or retry will make it
work, exactly as for a revoked key - and the client must obtain a new key.
Without this check the routes answered 500 (the apiserver refuses writes into a
terminating namespace with 403) and then a misleading 404.

Answers are cached per tenant for key_cache_seconds, like verified keys, so a
busy key costs the apiserver at most one namespace read per period.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Literal

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_api.auth import tenant_access
from prazium_api.contract.errors import ApiError

log = logging.getLogger(__name__)


def _read(name: str) -> client.V1Namespace | Literal["missing"] | None:
    """The namespace; "missing" when there is none; None when the apiserver could not say."""
    try:
        return client.CoreV1Api().read_namespace(name, _request_timeout=5)
    except ApiException as exc:
        return "missing" if exc.status == 404 else None
    except Exception as exc:  # unreachable apiserver, timeouts
        log.warning("cannot read namespace %s: %s", name, exc.__class__.__name__)
        return None


def _terminating(namespace: client.V1Namespace) -> bool:
    return (
        namespace.metadata is not None and namespace.metadata.deletion_timestamp is not None
    ) or (namespace.status is not None and namespace.status.phase == "Terminating")


def namespace_active(name: str) -> bool | None:
    """True: the namespace exists and is not terminating; False: it is gone or
    terminating; None: the apiserver could not say (the route then meets the
    outage itself)."""
    namespace = _read(name)
    if namespace is None or namespace == "missing":
        return None if namespace is None else False
    return not _terminating(namespace)


TenantState = Literal["tenant", "missing", "foreign"]


def tenant_state(name: str) -> TenantState | None:
    """Whether a key may be made for this namespace: "tenant" (Prazium made it, or an
    admin labelled it one: tenant_access.is_tenant), "missing" (gone or terminating),
    "foreign" (kube-system, default, anybody else's); None: the apiserver could not say."""
    namespace = _read(name)
    if namespace is None:
        return None
    if namespace == "missing" or _terminating(namespace):
        return "missing"
    return "tenant" if tenant_access.is_tenant(namespace) else "foreign"


def removed(tenant: str) -> ApiError:
    return ApiError(
        "UNAUTHORIZED",
        f"the tenant of this key ({tenant}) has been removed; the key no longer works",
        {"reason": "TENANT_REMOVED"},
        headers={"www-authenticate": "Bearer"},
    )


class TenantCheck:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, bool]] = {}

    async def require_active(self, tenant: str) -> None:
        """Raise 401 TENANT_REMOVED when the tenant's namespace is gone or terminating."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(tenant)
        if seen is not None and now - seen[0] < self.ttl:
            active: bool | None = seen[1]
        else:
            active = await asyncio.to_thread(namespace_active, tenant)
            if active is not None and self.ttl > 0:
                with self._lock:
                    self._seen[tenant] = (now, active)
                    if len(self._seen) > 10_000:  # bound memory across many tenants
                        self._seen.pop(next(iter(self._seen)))
        if active is False:
            raise removed(tenant)
