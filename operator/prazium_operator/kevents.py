"""Kubernetes Events on Runs and Tasks, so `kubectl describe` tells the story.

Best effort: the journal in PostgreSQL is the durable record; an Event that
cannot be posted is logged and dropped.
"""

from __future__ import annotations

import logging

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_kit.timefmt import utc_now
from prazium_kit.types import Obj

log = logging.getLogger(__name__)
COMPONENT = "prazium-operator"


def post(obj: Obj, reason: str, message: str, *, warning: bool = False) -> None:
    meta = obj["metadata"]
    namespace = meta["namespace"]
    timestamp = utc_now()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj["apiVersion"],
            "kind": obj["kind"],
            "name": meta["name"],
            "namespace": namespace,
            "uid": meta["uid"],
        },
        "reason": reason,
        "message": message[:1000],
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
    }
    try:
        client.CoreV1Api().create_namespaced_event(namespace, event)  # type: ignore[arg-type]
    except (ApiException, OSError) as exc:
        log.warning(
            "could not post event %s on %s/%s: %s",
            reason,
            namespace,
            meta["name"],
            exc,
            extra={"namespace": namespace, obj["kind"].lower(): meta["name"]},
        )
