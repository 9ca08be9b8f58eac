"""The nodes' room for sandbox Pods (executor/noderoom.py): the arithmetic over Nodes
and Pods as the apiserver returns them (its own model objects), which nodes the workers
may use, and the operator's own Pods not on a node yet."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kubernetes import client

from prazium_operator.executor import jobspec, noderoom
from prazium_operator.settings import Settings

JOBS = "prazium-jobs"


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "executor": "kubernetes",
        "job_namespace": JOBS,
        "worker_cpu_request": "250m",
        "worker_memory_request": "256Mi",
        **overrides,
    }
    return Settings(**values)


def _node(
    name: str,
    cpu: str = "2",
    memory: str = "15Gi",
    pods: str = "50",
    *,
    ready: str = "True",
    unschedulable: bool | None = None,
    taints: list[client.V1Taint] | None = None,
) -> client.V1Node:
    return client.V1Node(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1NodeSpec(unschedulable=unschedulable, taints=taints),
        status=client.V1NodeStatus(
            allocatable={"cpu": cpu, "memory": memory, "pods": pods},
            conditions=[client.V1NodeCondition(type="Ready", status=ready)],
        ),
    )


def _pod(
    node: str | None,
    cpu: str = "250m",
    memory: str = "256Mi",
    *,
    phase: str = "Running",
    namespace: str = "other",
    job: str | None = None,
    init_cpu: str | None = None,
) -> client.V1Pod:
    labels = {}
    if job is not None:
        labels = {jobspec.LABEL_ROLE: "worker", "batch.kubernetes.io/job-name": job}
    resources = client.V1ResourceRequirements(requests={"cpu": cpu, "memory": memory})
    init = (
        [
            client.V1Container(
                name="init",
                resources=client.V1ResourceRequirements(requests={"cpu": init_cpu}),
            )
        ]
        if init_cpu
        else None
    )
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=f"p-{job or id(resources)}", namespace=namespace, labels=labels
        ),
        spec=client.V1PodSpec(
            node_name=node,
            containers=[client.V1Container(name="c", resources=resources)],
            init_containers=init,
        ),
        status=client.V1PodStatus(phase=phase),
    )


def _judge(nodes: list[client.V1Node], pods: list[client.V1Pod], **kw: Any) -> noderoom.Snapshot:
    return noderoom.judge(
        nodes, pods, namespace=JOBS, tolerations=jobspec.node_tolerations(_settings()), **kw
    )


DEMAND = noderoom.Resources(Decimal("0.25"), Decimal(256 * 2**20), 1)


def test_quantities_are_parsed_and_the_least_fit_counts() -> None:
    # 1900m free CPU: 7 Pods of 250m; 15Gi of memory: 60; 50 Pods: 50.
    snap = _judge([_node("n1", cpu="1900m")], [])
    assert snap.free["n1"] == noderoom.Resources(Decimal("1.9"), Decimal(15 * 2**30), 50)
    assert noderoom.places(snap, DEMAND, 0) == 7
    # Memory the least: 1Gi holds 4 Pods of 256Mi.
    assert noderoom.places(_judge([_node("n1", memory="1Gi")], []), DEMAND, 0) == 4
    # Pods the least.
    assert noderoom.places(_judge([_node("n1", pods="3")], []), DEMAND, 0) == 3


def test_requests_of_pods_bound_there_are_taken_off_and_ended_pods_hold_nothing() -> None:
    pods = [
        _pod("n1", cpu="1"),  # 1 CPU taken: 4 places of 250m left
        _pod("n1", cpu="500m", phase="Succeeded"),
        _pod("n1", cpu="500m", phase="Failed"),
        _pod("n2", cpu="2"),  # n2 full
    ]
    snap = _judge([_node("n1"), _node("n2")], pods)
    assert snap.free["n1"].cpu == Decimal(1) and snap.free["n1"].pods == 49
    assert noderoom.places(snap, DEMAND, 0) == 4


def test_an_init_container_asking_more_than_the_containers_counts_as_the_request() -> None:
    pod = _pod("n1", cpu="250m", init_cpu="1500m")
    assert noderoom.pod_requests(pod).cpu == Decimal("1.5")
    assert noderoom.places(_judge([_node("n1")], [pod]), DEMAND, 0) == 2


def test_cordoned_not_ready_lost_and_tainted_nodes_hold_no_room() -> None:
    taint = client.V1Taint(key="dedicated", value="gpu", effect="NoSchedule")
    soft = client.V1Taint(key="soft", effect="PreferNoSchedule")
    # The worker Pods tolerate the lost-node taints (NoExecute, for a while).
    tolerated = client.V1Taint(key="node.kubernetes.io/unreachable", effect="NoExecute")
    nodes = [
        _node("cordoned", unschedulable=True),
        _node("down", ready="Unknown"),
        _node("lost"),
        _node("gpu", taints=[taint]),
        _node("soft", cpu="500m", taints=[soft]),
        _node("tolerated", cpu="250m", taints=[tolerated]),
    ]
    snap = _judge(nodes, [], avoid=["lost"])
    assert set(snap.free) == {"soft", "tolerated"}
    assert snap.unusable == {
        "cordoned": "unschedulable (cordoned)",
        "down": "not ready",
        "lost": "lost",
        "gpu": "tainted dedicated=gpu:NoSchedule",
    }
    assert noderoom.places(snap, DEMAND, 0) == 3
    told = noderoom.shortage(_judge(nodes[:1], []), DEMAND, 0, "250m CPU")
    assert told == "no node takes sandbox Pods (cordoned unschedulable (cordoned))"


def test_own_pods_not_on_a_node_yet_and_claims_count_against_the_room() -> None:
    pods = [
        _pod(None, namespace=JOBS, job="job-a"),  # created, not scheduled yet
        _pod(None, namespace="other"),  # someone else's Pending Pod: not ours to count
        _pod("n1", namespace=JOBS, job="job-b"),
    ]
    snap = _judge([_node("n1", cpu="1")], pods)
    assert snap.own_jobs == {"job-a", "job-b"} and snap.own_unbound == 1
    # 750m free on n1: 3 places, one of them job-a's, one a claim's.
    assert noderoom.places(snap, DEMAND, 1) == 1
    assert noderoom.places(snap, DEMAND, 5) == 0
    assert "taken by 3 Pods about to start" in noderoom.shortage(snap, DEMAND, 2, "250m CPU")


def test_the_shortage_names_the_resources_the_nodes_lack() -> None:
    snap = _judge([_node("n1", cpu="100m"), _node("n2", cpu="100m", pods="0")], [])
    told = noderoom.shortage(snap, DEMAND, 0, "250m CPU and 256Mi memory")
    assert told == "a sandbox Pod asks 250m CPU and 256Mi memory; the 2 nodes lack CPU and Pods"


class _Cluster:
    """What the reader returns, changed by the test between reads."""

    def __init__(self, nodes: list[client.V1Node], pods: list[client.V1Pod]) -> None:
        self.nodes, self.pods, self.reads = nodes, pods, 0

    def __call__(self) -> tuple[list[Any], list[Any]]:
        self.reads += 1
        return self.nodes, self.pods


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_claims_within_one_read_do_not_overbook_and_settle_once_their_pods_are_listed() -> None:
    cluster = _Cluster([_node("n1", cpu="500m")], [])
    clock = _Clock()
    room = noderoom.NodeRoom(_settings(), reader=cluster, clock=clock)
    room.refresh()
    assert room.claim("job-a") is None and room.claim("job-b") is None
    missing = room.claim("job-c")
    assert missing == (
        "a sandbox Pod asks 250m CPU and 256Mi memory; the room left is taken by 2 Pods "
        "about to start"
    )
    room.refresh()  # within CACHE_SECONDS: not read again
    assert cluster.reads == 1
    # The next read lists job-a's Pod on the node: its claim is the node's usage now.
    cluster.pods = [_pod("n1", namespace=JOBS, job="job-a")]
    clock.now += noderoom.CACHE_SECONDS
    room.refresh()
    assert cluster.reads == 2
    assert room.places_now() == 0  # 250m left, job-b's claim takes it
    room.drop("job-b")  # deleted before its Pod was made
    assert room.places_now() == 1
    assert room.claim("job-c") is None


def test_a_job_ahead_only_takes_room_the_free_worker_slots_will_not_need() -> None:
    cluster = _Cluster([_node("n1", cpu="1")], [])  # 4 places
    free_slots = [3]
    room = noderoom.NodeRoom(_settings(), reader=cluster, slots_free=lambda: free_slots[0])
    room.refresh()
    assert room.claim("ahead-1", ahead=True) is None  # 4 places, 3 kept: one for it
    assert room.claim("ahead-2", ahead=True) is not None  # 3 left, all kept
    assert room.claim("ready-1") is None  # a ready task takes a kept place
    free_slots[0] = 1
    assert room.claim("ahead-2", ahead=True) is None


def test_unknown_room_lets_everything_through() -> None:
    def failing() -> tuple[list[Any], list[Any]]:
        raise client.ApiException(status=403, reason="Forbidden")

    room = noderoom.NodeRoom(_settings(), reader=failing)
    room.refresh()
    assert room.places_now() is None
    assert room.claim("job-a") is None
    no_nodes = noderoom.NodeRoom(_settings(), reader=_Cluster([], []))
    no_nodes.refresh()
    assert no_nodes.places_now() is None


def test_a_discarded_job_frees_its_room_once_its_pod_is_gone() -> None:
    cluster = _Cluster([_node("n1", cpu="250m")], [_pod("n1", namespace=JOBS, job="ahead")])
    clock = _Clock()
    room = noderoom.NodeRoom(_settings(), reader=cluster, clock=clock)
    room.refresh()
    assert room.places_now() == 0
    room.discarding("ahead")
    assert room.freeing == 1
    cluster.pods = []
    clock.now += noderoom.CACHE_SECONDS
    room.refresh()
    assert room.freeing == 0 and room.places_now() == 1
