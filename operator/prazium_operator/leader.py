"""Leader election between operator processes, on kopf's peering (crds/kopf-peering.yaml).

Every process keeps a keep-alive (priority, lastseen, lifetime) in one peering
object; a process that sees a live peer of a higher priority pauses all of its
handlers and daemons. The priority falls with the start time, so the oldest live
process leads and a newly started one waits as the standby instead of taking over
runs mid-flight. When the leader dies (SIGKILL, a lost node) its keep-alive expires
after settings.peering_lifetime_seconds; the standby then resumes and its Run daemons
pick every run up from status, adopting the workers still running (as after an
operator restart).
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_operator.settings import Settings

GROUP, VERSION = "kopf.dev", "v1"
log = logging.getLogger(__name__)
# Milliseconds since the epoch stay below this for the next few centuries.
_PRIORITY_CEILING = 10**13


def priority_now() -> int:
    """Higher for an earlier start: the older process leads; the random tail breaks the
    tie of two processes started in the same millisecond."""
    return (_PRIORITY_CEILING - int(time.time() * 1000)) * 100 + random.randrange(100)


def ensure_peering_objects(settings: Settings) -> None:
    """The peering object(s) the processes meet in: kopf patches keep-alives into an
    existing object only. Creating one that exists is a no-op (409)."""
    api = client.CustomObjectsApi()
    body = {"apiVersion": f"{GROUP}/{VERSION}", "metadata": {"name": settings.peering_name}}
    if not settings.namespaces:
        _created(lambda: api.create_cluster_custom_object(
            GROUP, VERSION, "clusterkopfpeerings", {**body, "kind": "ClusterKopfPeering"}))
    for namespace in settings.namespaces:
        _created(functools.partial(api.create_namespaced_custom_object, GROUP, VERSION,
                                   namespace, "kopfpeerings", {**body, "kind": "KopfPeering"}))
    log.info("leader election on kopf peering %r (lifetime %s s)", settings.peering_name,
             settings.peering_lifetime_seconds)


def _created(create: Callable[[], object]) -> None:
    try:
        create()
    except ApiException as exc:
        if exc.status != 409:
            raise
