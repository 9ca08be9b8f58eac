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

A false alarm costs a task attempt, so the judgement guards against the observer's own
trouble being taken for the node's:
- A Lease's silence is counted on the operator's clock between its own reads, and a
  gap between two reads counts for at most MAX_CREDIT_SECONDS: an operator whose reads
  stalled or failed (a busy machine, an apiserver outage) does not see every Lease as
  silent when it reads again; the kubelets get their time to renew after it.
- Only a node beside a well one (Ready, its Lease renewed within node_lost_seconds) is
  judged by its silence or its Ready condition: when every node looks silent the cause
  is the operator's reads, the apiserver or the whole machine, and an attempt has
  nowhere better to run. So a single node is left to Kubernetes (its taints and the
  Pods' tolerations), except when its Node object is gone.

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
# The most one gap between two reads adds to a Lease's silence: the kubelet's renewal
# interval (10 s by default), so an operator reading at least that often counts
# silence in full, and one that could not read for longer counts only this much.
MAX_CREDIT_SECONDS = 10.0
LEASE_NAMESPACE = "kube-node-lease"


@dataclass(frozen=True)
class NodeFacts:
    """What the apiserver says of one node."""

    ready: str  # the Ready condition's status: True, False, Unknown ("" without one)
    lease_renewed: float | None  # the kubelet's Lease renewTime (epoch seconds)


def judge(
    name: str,
    facts: NodeFacts | None,
    silent: float | None,
    lost_after: float,
    *,
    beside_a_well_node: bool = True,
) -> str | None:
    """Why the node is lost, or None while it is not. silent: for how long the operator
    has read the same renewTime on its Lease (None: no Lease known); without a well node
    beside it only a node that is gone is lost."""
    if facts is None:
        return f"node {name} is gone"
    if not beside_a_well_node:
        return None
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

    A Lease's silence is measured on this process's clock, from when it first read the
    Lease's current renewTime (as the node lifecycle controller does), so a node whose
    clock is off is not judged by it; each gap between two reads adds at most
    MAX_CREDIT_SECONDS."""

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
        self._tried_at = float("-inf")
        self._read_at: float | None = None  # when the last read that answered began
        self._facts: dict[str, NodeFacts] = {}
        self._leases_known = False
        self._readable = True
        # Node -> (the Lease's renewTime, for how long the operator has read it unchanged).
        self._silence: dict[str, tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self.lost_after > 0 and self._readable

    def _refresh(self, *, now: bool = False) -> bool:
        """Read again unless read within CHECK_SECONDS (now: at once); whether it read."""
        began = self._clock()
        if not now and began - self._tried_at < CHECK_SECONDS:
            return False
        self._tried_at = began
        try:
            facts, leases_known = self._reader()
        except ApiException as exc:
            if exc.status != 403:
                raise
            self._readable = False
            log.warning(
                "cannot read Nodes (%s): lost nodes are left to Kubernetes' own eviction",
                exc.reason,
            )
            return True
        # What was read is at least as new as the moment the read began: the silence
        # grows by the time since the last read that answered, within the credit.
        credit = 0.0 if self._read_at is None else began - self._read_at
        credit = min(max(credit, 0.0), MAX_CREDIT_SECONDS)
        self._read_at = began
        self._facts, self._leases_known = facts, leases_known
        silence: dict[str, tuple[float, float]] = {}
        for name, node in facts.items():
            if node.lease_renewed is None:
                continue
            seen = self._silence.get(name)
            if seen is None or seen[0] != node.lease_renewed:
                silence[name] = (node.lease_renewed, 0.0)
            else:
                silence[name] = (node.lease_renewed, seen[1] + credit)
        self._silence = silence
        return True

    def _silent(self, name: str) -> float | None:
        seen = self._silence.get(name) if self._leases_known else None
        return seen[1] if seen is not None else None

    def _well(self, name: str) -> bool:
        facts = self._facts.get(name)
        silent = self._silent(name)
        return (
            facts is not None
            and facts.ready == "True"
            and (silent is None or silent <= self.lost_after)
        )

    def _judge(self, name: str) -> str | None:
        beside_a_well_node = any(self._well(other) for other in self._facts if other != name)
        return judge(
            name,
            self._facts.get(name),
            self._silent(name),
            self.lost_after,
            beside_a_well_node=beside_a_well_node,
        )

    def why_lost(self, node: str) -> str | None:
        """Why node is lost, None while it is not (or the check is off)."""
        if not node or not self.enabled:
            return None
        with self._lock:
            if not self._refresh() and node not in self._facts:
                # A node registered since the last read is not a gone one.
                self._refresh(now=True)
            if not self._readable or self._read_at is None:
                return None
            return self._judge(node)

    def lost(self, candidates: Iterable[str] | None = None) -> list[str]:
        """The lost nodes among candidates (default: every node known), sorted."""
        if not self.enabled:
            return []
        with self._lock:
            self._refresh()
            if not self._readable or self._read_at is None:
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
