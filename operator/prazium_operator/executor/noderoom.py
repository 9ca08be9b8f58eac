"""Room on the nodes: how many more sandbox Pods (worker or verification, both ask the
configured worker_cpu_request and worker_memory_request) the nodes can take now.

Without it the operator's worker slots were the only bound: a Pod created where no
node had room waited Pending, the scheduler retrying it with backoff, while Pods
created ahead of their task (prestart.py) held the room the ready tasks needed. So a
Job is created only when its Pod fits; a ready task that finds no room waits in the
operator's queue instead, its Task saying what room is missing.

The room is counted as the scheduler counts it: for each node the workers may use
(Ready, not cordoned, not lost (nodes.py), no NoSchedule/NoExecute taint their Pods do
not tolerate), allocatable cpu, memory and Pods minus the requests of the non-terminal
Pods bound there, as a number of sandbox Pods (the least of the three fits), summed
over the nodes. Pods the operator created that no node holds yet count against it too:
those the apiserver lists unbound, and the Jobs created since the last read, whose
Pods it did not list yet (else two decisions between two reads would both take the
same place).

Nodes and non-terminal Pods (of every namespace, or of the job namespace where the
operator may not list more: ClusterReader) are read at most every CACHE_SECONDS, in
one list each, whatever the number of runs and tasks; while some work waits for room
the reads go on in the background, and each tells the listener (the operator's
wake-ups) that room may have come. When they cannot be read (the apiserver failing,
no node at all) the room is unknown and the worker slots alone bound the Pods, said
once in the log.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

from prazium_operator.executor import jobspec
from prazium_operator.settings import Settings

log = logging.getLogger(__name__)

CACHE_SECONDS = 1.0
# A Job created whose Pod no read has shown for this long stops counting (it was
# deleted under the operator, or its Pod is listed by now in any case).
CLAIM_SECONDS = 30.0
# The background reads go on this long after work last found no room.
WANTED_SECONDS = 15.0
TERMINAL_PHASES = ("Succeeded", "Failed")
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")
LABEL_JOB = "batch.kubernetes.io/job-name"
LABEL_JOB_LEGACY = "job-name"
SANDBOX_ROLES = ("worker", "verification")


@dataclass(frozen=True)
class Resources:
    cpu: Decimal
    memory: Decimal
    pods: int


@dataclass(frozen=True)
class Snapshot:
    """One read of the nodes and Pods, judged: what each usable node has free, why the
    others are not used, and the operator's own Pods."""

    free: Mapping[str, Resources]  # usable node -> free
    unusable: Mapping[str, str]  # node -> why the workers do not use it
    own_jobs: frozenset[str]  # Jobs of the operator's sandbox Pods listed (not terminal)
    own_unbound: int  # of those Pods, how many no node holds yet


def pod_requests(pod: Any) -> Resources:
    """What a Pod asks of its node, as the scheduler counts it: the larger of its
    containers' sum and each init container, plus its runtime's overhead."""
    spec = pod.spec

    def requests(container: Any) -> tuple[Decimal, Decimal]:
        asked = (container.resources.requests if container.resources else None) or {}
        return (
            parse_quantity(asked.get("cpu", 0)),
            parse_quantity(asked.get("memory", 0)),
        )

    cpu = memory = Decimal(0)
    for container in spec.containers or []:
        c, m = requests(container)
        cpu, memory = cpu + c, memory + m
    for container in spec.init_containers or []:
        c, m = requests(container)
        cpu, memory = max(cpu, c), max(memory, m)
    overhead = spec.overhead or {}
    cpu += parse_quantity(overhead.get("cpu", 0))
    memory += parse_quantity(overhead.get("memory", 0))
    return Resources(cpu, memory, 1)


def tolerates(toleration: Mapping[str, Any], taint: Any) -> bool:
    """Whether a Pod's toleration (as in its manifest) tolerates a node's taint."""
    effect = toleration.get("effect")
    if effect and effect != taint.effect:
        return False
    key = toleration.get("key")
    if toleration.get("operator", "Equal") == "Exists":
        return not key or key == taint.key
    return bool(key == taint.key and (toleration.get("value") or "") == (taint.value or ""))


def why_unusable(
    node: Any, tolerations: Iterable[Mapping[str, Any]], avoid: Iterable[str]
) -> str | None:
    """Why sandbox Pods would not be scheduled on node (None: they may be)."""
    if node.spec is not None and node.spec.unschedulable:
        return "unschedulable (cordoned)"
    ready = next(
        (
            c.status
            for c in (node.status.conditions if node.status else None) or []
            if c.type == "Ready"
        ),
        None,
    )
    if ready != "True":
        return "not ready"
    if node.metadata.name in set(avoid):
        return "lost"
    tolerations = list(tolerations)
    for taint in (node.spec.taints if node.spec else None) or []:
        if taint.effect in BLOCKING_EFFECTS and not any(tolerates(t, taint) for t in tolerations):
            value = f"={taint.value}" if taint.value else ""
            return f"tainted {taint.key}{value}:{taint.effect}"
    return None


def _own_job(pod: Any, namespace: str) -> str | None:
    """The Job of one of the operator's sandbox Pods (None for any other Pod)."""
    labels = pod.metadata.labels or {}
    if pod.metadata.namespace != namespace or labels.get(jobspec.LABEL_ROLE) not in SANDBOX_ROLES:
        return None
    return labels.get(LABEL_JOB) or labels.get(LABEL_JOB_LEGACY)


def judge(
    nodes: Iterable[Any],
    pods: Iterable[Any],
    *,
    namespace: str,
    tolerations: Iterable[Mapping[str, Any]],
    avoid: Iterable[str] = (),
) -> Snapshot:
    """The room a list of Nodes and Pods leaves (terminal Pods hold none)."""
    tolerations, avoid = list(tolerations), list(avoid)
    used: dict[str, list[Resources]] = {}
    own_jobs: set[str] = set()
    own_unbound = 0
    for pod in pods:
        if (pod.status.phase if pod.status else None) in TERMINAL_PHASES:
            continue
        node_name = pod.spec.node_name if pod.spec else None
        job = _own_job(pod, namespace)
        if job is not None:
            own_jobs.add(job)
            own_unbound += not node_name
        if node_name:
            used.setdefault(node_name, []).append(pod_requests(pod))
    free: dict[str, Resources] = {}
    unusable: dict[str, str] = {}
    for node in nodes:
        name = node.metadata.name
        why = why_unusable(node, tolerations, avoid)
        if why is not None:
            unusable[name] = why
            continue
        allocatable = (node.status.allocatable if node.status else None) or {}
        taken = used.get(name, [])
        free[name] = Resources(
            parse_quantity(allocatable.get("cpu", 0)) - sum((r.cpu for r in taken), Decimal(0)),
            parse_quantity(allocatable.get("memory", 0))
            - sum((r.memory for r in taken), Decimal(0)),
            int(parse_quantity(allocatable.get("pods", 0))) - len(taken),
        )
    return Snapshot(free, unusable, frozenset(own_jobs), own_unbound)


def fits(free: Resources, demand: Resources) -> int:
    """How many Pods asking demand fit in free (the least of cpu, memory and Pods)."""
    counts = [free.pods // max(demand.pods, 1)]
    for have, want in ((free.cpu, demand.cpu), (free.memory, demand.memory)):
        if want > 0:
            counts.append(int(have // want) if have > 0 else 0)
    return max(min(counts), 0)


def places(snapshot: Snapshot, demand: Resources, claimed: int) -> int:
    """How many more sandbox Pods the nodes take, once claimed ones (created, on no
    node yet) have theirs."""
    total = sum(fits(free, demand) for free in snapshot.free.values())
    return max(total - snapshot.own_unbound - claimed, 0)


def shortage(snapshot: Snapshot, demand: Resources, claimed: int, asked: str) -> str:
    """What room is missing, for the Task's message; asked: the demand as configured."""
    if not snapshot.free:
        reasons = [f"{name} {why}" for name, why in sorted(snapshot.unusable.items())[:3]]
        more = len(snapshot.unusable) - len(reasons)
        told = ", ".join(reasons) + (f" and {more} more" if more > 0 else "")
        return f"no node takes sandbox Pods ({told or 'no node'})"
    short: list[str] = []
    for free in snapshot.free.values():
        if fits(free, demand):
            continue
        for name, have, want in (
            ("CPU", free.cpu, demand.cpu),
            ("memory", free.memory, demand.memory),
            ("Pods", Decimal(free.pods), Decimal(demand.pods)),
        ):
            if have < want and name not in short:
                short.append(name)
    nodes = len(snapshot.free)
    where = "the node lacks" if nodes == 1 else f"the {nodes} nodes lack"
    if short and sum(fits(f, demand) for f in snapshot.free.values()) == 0:
        return f"a sandbox Pod asks {asked}; {where} {' and '.join(short)}"
    pending = snapshot.own_unbound + claimed
    return f"a sandbox Pod asks {asked}; the room left is taken by {pending} Pods about to start"


class NodeRoom:
    """The room on the nodes for one operator's sandbox Pods (thread-safe: the executors
    call it from the event loop and from worker threads)."""

    def __init__(
        self,
        settings: Settings,
        avoid: Callable[[], Iterable[str]] = lambda: (),
        slots_free: Callable[[], int] = lambda: 0,
        reader: Callable[[], tuple[list[Any], list[Any]]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.demand = Resources(
            parse_quantity(settings.worker_cpu_request),
            parse_quantity(settings.worker_memory_request),
            1,
        )
        self.asked = (
            f"{settings.worker_cpu_request} CPU and {settings.worker_memory_request} memory"
        )
        self.namespace = settings.job_namespace
        self.tolerations = jobspec.node_tolerations(settings)
        self._avoid = avoid
        self._slots_free = slots_free
        self._reader = reader or ClusterReader(self.namespace)
        self._clock = clock
        self._lock = threading.Lock()  # the state below
        self._reading = threading.Lock()  # one read at a time
        self._snapshot: Snapshot | None = None
        self._read_at = float("-inf")
        self._told_unknown = False
        # Job name -> when it was created, until a read lists its Pod.
        self._claims: dict[str, float] = {}
        # Job name -> when it was deleted to make room, until its Pod is gone.
        self._freeing: dict[str, float] = {}
        self._listeners: list[Callable[[], None]] = []
        self._wanted_until = float("-inf")
        self._background: threading.Thread | None = None

    # ---------------------------------------------------------------- reading

    def refresh(self) -> None:
        """Read the nodes and Pods again unless read within CACHE_SECONDS (blocking)."""
        with self._reading:
            if self._clock() - self._read_at < CACHE_SECONDS:
                return
            began = self._clock()
            try:
                nodes, pods = self._reader()
                if not nodes:
                    raise LookupError("no Node is known")
                snapshot: Snapshot | None = judge(
                    nodes,
                    pods,
                    namespace=self.namespace,
                    tolerations=self.tolerations,
                    avoid=self._avoid(),
                )
            except Exception as exc:  # unknown room: the worker slots alone bound the Pods
                snapshot = None
                if not self._told_unknown:
                    self._told_unknown = True
                    log.warning(
                        "cannot read the room on the nodes (%s): worker slots alone bound "
                        "the sandbox Pods until it can be read",
                        getattr(exc, "reason", None) or exc,
                    )
            with self._lock:
                self._snapshot, self._read_at = snapshot, began
                if snapshot is not None:
                    if self._told_unknown:
                        log.info("the room on the nodes can be read again")
                    self._told_unknown = False
                    self._settle(snapshot, began)
                listeners = list(self._listeners)
        for listener in listeners:
            # RuntimeError: the operator's event loop has closed (it is exiting).
            with contextlib.suppress(RuntimeError):
                listener()

    def _settle(self, snapshot: Snapshot, now: float) -> None:
        """Claims whose Pods are listed now count in the snapshot itself; discarded Jobs
        whose Pods are gone freed their room."""
        for job, since in list(self._claims.items()):
            if job in snapshot.own_jobs or now - since > CLAIM_SECONDS:
                del self._claims[job]
        for job, since in list(self._freeing.items()):
            if job not in snapshot.own_jobs or now - since > CLAIM_SECONDS:
                del self._freeing[job]

    def _current(self) -> Snapshot | None:
        """The last read; a stale one starts a read in the background (never blocks)."""
        with self._lock:
            stale = self._clock() - self._read_at >= CACHE_SECONDS
        if stale:
            self._in_background()
        with self._lock:
            return self._snapshot

    # ---------------------------------------------------------------- deciding

    def places_now(self) -> int | None:
        """How many more sandbox Pods fit, from the last read (None: unknown)."""
        snapshot = self._current()
        if snapshot is None:
            return None
        with self._lock:
            return places(snapshot, self.demand, len(self._claims))

    def claim(self, job: str, *, ahead: bool = False) -> str | None:
        """Take a place for job's Pod: None when taken (or the room is unknown), else
        what room is missing. ahead: a Job created ahead of its work takes only a place
        the free worker slots will not need."""
        snapshot = self._current()
        with self._lock:
            if snapshot is None or job in self._claims:
                self._claims.setdefault(job, self._clock())
                self._freeing.pop(job, None)
                return None
            left = places(snapshot, self.demand, len(self._claims))
            keep = max(self._slots_free(), 0) if ahead else 0
            if left - keep >= 1:
                self._claims[job] = self._clock()
                self._freeing.pop(job, None)
                return None
            if ahead:
                return f"{left} places left, {keep} kept for the free worker slots"
            message = shortage(snapshot, self.demand, len(self._claims), self.asked)
        self.want()
        return message

    def record(self, job: str) -> None:
        """job was created whatever the room (claimed already, or the room unknown)."""
        with self._lock:
            self._claims.setdefault(job, self._clock())
            self._freeing.pop(job, None)

    def drop(self, job: str) -> None:
        """job was not created after all, or is deleted: it claims no place."""
        with self._lock:
            self._claims.pop(job, None)

    def discarding(self, job: str) -> None:
        """job (created ahead) is deleted to make room: room is coming once it is gone."""
        with self._lock:
            self._claims.pop(job, None)
            self._freeing[job] = self._clock()

    @property
    def freeing(self) -> int:
        """Jobs deleted to make room whose Pods still hold it."""
        with self._lock:
            return len(self._freeing)

    # ---------------------------------------------------------------- waking

    def on_refresh(self, listener: Callable[[], None]) -> None:
        """listener() after every read (in the reading thread): room may have come."""
        with self._lock:
            self._listeners.append(listener)

    def want(self) -> None:
        """Work waits for room: read in the background for WANTED_SECONDS from now."""
        with self._lock:
            self._wanted_until = self._clock() + WANTED_SECONDS
        self._in_background()

    def _in_background(self) -> None:
        with self._lock:
            if self._background is not None and self._background.is_alive():
                return
            self._background = threading.Thread(
                target=self._read_while_wanted,
                name="prazium-noderoom",
                daemon=True,
            )
            self._background.start()

    def _read_while_wanted(self) -> None:
        while True:
            self.refresh()
            with self._lock:
                if self._clock() >= self._wanted_until:
                    return
            time.sleep(CACHE_SECONDS)


class ClusterReader:
    """Every Node, and every Pod not ended (from the apiserver's watch cache). Without
    the right to list Pods in every namespace (the Helm chart grants Pods in the job
    namespace only: a Pod's spec is no business of the operator elsewhere), the job
    namespace's: the sandbox Pods, which take most of the nodes' room here; the room
    that other workloads take is then left to the scheduler. Said once in the log."""

    def __init__(self, namespace: str, core: client.CoreV1Api | None = None) -> None:
        self.namespace = namespace
        self.every_namespace = True
        self._core = core

    def __call__(self) -> tuple[list[Any], list[Any]]:
        core = self._core or client.CoreV1Api()
        nodes: Any = core.list_node(resource_version="0")
        return list(nodes.items), list(self._pods(core).items)

    def _pods(self, core: client.CoreV1Api) -> Any:
        selector = "status.phase!=Succeeded,status.phase!=Failed"
        if self.every_namespace:
            try:
                return core.list_pod_for_all_namespaces(
                    field_selector=selector, resource_version="0"
                )
            except ApiException as exc:
                if exc.status != 403:
                    raise
                self.every_namespace = False
                log.info(
                    "no right to list Pods in every namespace: the room on the nodes counts"
                    " the Pods of namespace %s only",
                    self.namespace,
                )
        return core.list_namespaced_pod(
            self.namespace, field_selector=selector, resource_version="0"
        )


@runtime_checkable
class RoomKeeper(Protocol):
    """An executor whose workers need room on the nodes (executor/kubernetes.py)."""

    node_room: NodeRoom

    async def room_to_start(self, namespace: str, task_cr: str, attempt: int) -> str | None: ...


def keeper(executor: object) -> RoomKeeper | None:
    """The executor, if its workers need room on the nodes; None otherwise (local)."""
    return executor if isinstance(executor, RoomKeeper) else None
