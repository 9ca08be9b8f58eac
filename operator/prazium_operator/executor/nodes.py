"""Which nodes are lost: the operator's own judgement of the nodes its sandbox Pods run on.

Kubernetes evicts the Pods of a node that stopped answering only late: the node
lifecycle controller marks it not ready after its grace period (about 50 s), and its
Pods then stay for their tolerationSeconds (300 s unless the Pod says otherwise;
worker and verification Pods say node_toleration_seconds, jobspec.py). Even then a
Pod on a dead node is never confirmed gone (its kubelet is what would confirm it), so
the Job's Failed condition never comes.

So the operator decides itself, from what the apiserver already holds: a node is lost
when its Node object is gone, its Ready condition is not True, or its kubelet has not
renewed its Lease (kube-node-lease, renewed every 10 s by default) for
node_lost_seconds. A task attempt whose Pod is on a lost node is lost (its next
attempt runs elsewhere), and new Pods keep off the lost nodes (a node affinity, since
the scheduler still sees the node as Ready until the lifecycle controller says
otherwise). node_lost_seconds 0 leaves all of it to Kubernetes.

Nodes and Leases are read at most every CHECK_SECONDS, in one list each, whatever the
number of running tasks. Without the right to read them (a chart installed without
it) the check is off, said once in the log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
LEASE_NAMESPACE = "kube-node-lease"


@dataclass(frozen=True)
class NodeFacts:
    """What the apiserver says of one node."""

    ready: str  # the Ready condition's status: True, False, Unknown ("" without one)
    lease_renewed: float | None  # the kubelet's Lease renewTime (epoch seconds)


def judge(
    name: str, facts: NodeFacts | None, silent: float | None, lost_after: float
) -> str | None:
    """Why the node is lost, or None while it is not. silent: for how long the operator
    has seen the same renewTime on its Lease (None: no Lease known)."""
    if facts is None:
        return f"node {name} is gone"
    if facts.ready != "True":
        return f"node {name} is not ready (Ready={facts.ready or 'unknown'})"
    if silent is not None and silent > lost_after:
        return f"node {name} has not renewed its lease for {silent:.0f} s"
    return None


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def read_nodes() -> tuple[dict[str, NodeFacts], bool]:
    """Every Node's facts, and whether the Leases could be read."""
    nodes: Any = client.CoreV1Api().list_node()
    ready: dict[str, str] = {}
    for node in nodes.items:
        status = ""
        for cond in (node.status.conditions if node.status else None) or []:
            if cond.type == "Ready":
                status = str(cond.status)
        ready[node.metadata.name] = status
    renewed: dict[str, float | None] = {}
    leases_known = True
    try:
        leases: Any = client.CoordinationV1Api().list_namespaced_lease(LEASE_NAMESPACE)
        for lease in leases.items:
            renewed[lease.metadata.name] = _epoch(lease.spec.renew_time if lease.spec else None)
    except ApiException as exc:
        if exc.status not in (403, 404):
            raise
        leases_known = False
    facts = {name: NodeFacts(status, renewed.get(name)) for name, status in ready.items()}
    return facts, leases_known


class NodeHealth:
    """The lost nodes, read at most every CHECK_SECONDS (thread-safe: executors call it
    from worker threads).

    A Lease's silence is measured on this process's clock, from when it first saw the
    Lease's current renewTime (as the node lifecycle controller does), so a node whose
    clock is off is not judged by it."""

    def __init__(
        self,
        lost_after: float,
        reader: Callable[[], tuple[dict[str, NodeFacts], bool]] = read_nodes,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lost_after = lost_after
        self._reader = reader
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._facts: dict[str, NodeFacts] = {}
        self._leases_known = False
        self._readable = True
        # Node -> (the Lease's renewTime, when this process first saw that value).
        self._renewals: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.lost_after > 0 and self._readable

    def _refresh(self) -> None:
        now = self._clock()
        if now - self._read_at < CHECK_SECONDS:
            return
        self._read_at = now
        try:
            self._facts, self._leases_known = self._reader()
        except ApiException as exc:
            if exc.status != 403:
                raise
            self._readable = False
            log.warning(
                "cannot read Nodes (%s): lost nodes are left to Kubernetes' own eviction",
                exc.reason,
            )
            return
        for name, facts in self._facts.items():
            seen = self._renewals.get(name)
            if facts.lease_renewed is None:
                self._renewals.pop(name, None)
            elif seen is None or seen[0] != facts.lease_renewed:
                self._renewals[name] = (facts.lease_renewed, now)

    def _judge(self, name: str) -> str | None:
        seen = self._renewals.get(name) if self._leases_known else None
        silent = self._clock() - seen[1] if seen is not None else None
        return judge(name, self._facts.get(name), silent, self.lost_after)

    def why_lost(self, node: str) -> str | None:
        """Why node is lost, None while it is not (or the check is off)."""
        if not node or not self.enabled:
            return None
        with self._lock:
            self._refresh()
            if not self._readable:
                return None
            return self._judge(node)

    def lost(self, candidates: Iterable[str] | None = None) -> list[str]:
        """The lost nodes among candidates (default: every node known), sorted."""
        if not self.enabled:
            return []
        with self._lock:
            self._refresh()
            if not self._readable:
                return []
            names = list(self._facts) if candidates is None else list(candidates)
            return sorted({name for name in names if self._judge(name)})

    def to_avoid(self) -> list[str]:
        """The lost nodes new sandbox Pods should keep off: none unless some other node
        is well (a Pod's node affinity cannot change, and a Pod kept off every node would
        wait for good however soon its node came back)."""
        lost = self.lost()
        with self._lock:
            well = [name for name in self._facts if name not in lost]
        return lost if well else []


_shared: dict[float, NodeHealth] = {}
_shared_lock = threading.Lock()


def health(lost_after: float) -> NodeHealth:
    """The operator's one NodeHealth (task and verification Jobs share its reads)."""
    with _shared_lock:
        if lost_after not in _shared:
            _shared[lost_after] = NodeHealth(lost_after)
        return _shared[lost_after]
