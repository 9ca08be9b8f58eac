"""The operator's own judgement of lost nodes (executor/nodes.py): a node is lost when it
is gone, not Ready, or its Lease has kept the same renewTime for longer than
node_lost_seconds of the operator's own reads; never for its silence or Ready condition
while no other node is well (a single node, or every node silent at once: the trouble is
the observer's); a gap between reads counts for at most MAX_CREDIT_SECONDS; new Pods
avoid lost nodes only while another node is well. The Node and Lease reads are given as
plain facts here; the integration tests (tests/integration/test_two_nodes.py) read them
from a real apiserver."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from prazium_operator.executor import nodes
from prazium_operator.executor.nodes import NodeFacts, NodeHealth

WELL = "True"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Reads:
    """The apiserver's answers, as a test changes them; a read fails while failing."""

    def __init__(self, facts: dict[str, NodeFacts]) -> None:
        self.facts = facts
        self.failing = False
        self.count = 0

    def __call__(self) -> tuple[dict[str, NodeFacts], bool]:
        self.count += 1
        if self.failing:
            raise ApiException(status=503, reason="Service Unavailable")
        return dict(self.facts), True


def _health(reads: Reads, clock: Clock, lost_after: float = 30.0) -> NodeHealth:
    return NodeHealth(lost_after, reader=reads, clock=clock)


def _watch(health: NodeHealth, clock: Clock, seconds: float, step: float = 2.0) -> None:
    """The operator polling its running tasks for this long, a read every step."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now = min(clock.now + step, end)
        health.lost()


def test_the_judgement_itself() -> None:
    assert nodes.judge("a", None, None, 30) == "node a is gone"
    assert nodes.judge("a", None, None, 30, beside_a_well_node=False) == "node a is gone"
    assert "not ready (Ready=Unknown)" in str(nodes.judge("a", NodeFacts("Unknown", 1.0), 0, 30))
    assert "Ready=unknown" in str(nodes.judge("a", NodeFacts("", None), None, 30))
    assert nodes.judge("a", NodeFacts(WELL, 1.0), 29.9, 30) is None
    assert "for 32 s" in str(nodes.judge("a", NodeFacts(WELL, 1.0), 31.6, 30))
    assert nodes.judge("a", NodeFacts(WELL, None), None, 30) is None
    # Alone, neither silence nor a Ready condition makes it lost.
    assert nodes.judge("a", NodeFacts("Unknown", 1.0), 99, 30, beside_a_well_node=False) is None


def test_a_lease_silent_longer_than_the_limit_beside_a_renewing_node_is_lost() -> None:
    clock = Clock()
    reads = Reads({"a": NodeFacts(WELL, 500.0), "b": NodeFacts(WELL, 500.0)})
    health = _health(reads, clock)
    # The renewTime itself is old (another clock): silence counts from when it was read.
    assert health.why_lost("a") is None
    for renewal in (510.0, 520.0, 530.0):
        reads.facts["b"] = NodeFacts(WELL, renewal)  # b renews every 10 s, a does not
        _watch(health, clock, 10)
    assert health.lost() == []  # 30 s: not yet more than the limit
    reads.facts["b"] = NodeFacts(WELL, 540.0)
    _watch(health, clock, 2)
    assert health.lost() == ["a"]
    assert "has not renewed its lease for 32 s" in str(health.why_lost("a"))
    assert health.why_lost("b") is None
    assert health.to_avoid() == ["a"]
    # It renews again: no longer lost.
    reads.facts["a"] = NodeFacts(WELL, 545.0)
    _watch(health, clock, 2)
    assert health.lost() == [] and health.to_avoid() == []


def test_a_single_node_is_never_lost_for_its_silence_or_its_ready_condition() -> None:
    clock = Clock()
    reads = Reads({"a": NodeFacts(WELL, 1.0)})
    health = _health(reads, clock)
    _watch(health, clock, 300)
    assert health.why_lost("a") is None and health.lost() == []
    reads.facts["a"] = NodeFacts("Unknown", 1.0)
    _watch(health, clock, 10)
    assert health.why_lost("a") is None and health.to_avoid() == []
    # Its Node object gone is another matter.
    del reads.facts["a"]
    _watch(health, clock, 2)
    assert health.why_lost("a") == "node a is gone"


def test_every_node_silent_at_once_is_the_observers_trouble() -> None:
    clock = Clock()
    reads = Reads({"a": NodeFacts(WELL, 1.0), "b": NodeFacts(WELL, 2.0)})
    health = _health(reads, clock)
    _watch(health, clock, 120)
    assert health.lost() == [] and health.why_lost("a") is None and health.why_lost("b") is None
    # Once one renews, the other, silent all along, is lost.
    reads.facts["b"] = NodeFacts(WELL, 3.0)
    _watch(health, clock, 2)
    assert health.lost() == ["a"]


def test_a_stalled_or_failing_observer_does_not_count_its_own_gap_as_silence() -> None:
    clock = Clock()
    reads = Reads({"a": NodeFacts(WELL, 1.0), "b": NodeFacts(WELL, 1.0)})
    health = _health(reads, clock)
    health.lost()
    # Both renew at once, then the operator stalls for a minute (a busy machine): its
    # next read finds b renewed while it waited and a not yet.
    reads.facts["a"] = NodeFacts(WELL, 2.0)
    reads.facts["b"] = NodeFacts(WELL, 2.0)
    _watch(health, clock, 2)
    reads.facts["b"] = NodeFacts(WELL, 60.0)
    clock.now += 60
    assert health.lost() == []
    assert health.why_lost("a") is None
    # Reads that fail (an apiserver outage) add nothing either; the failure is the
    # caller's to see.
    reads.failing = True
    for _ in range(30):
        clock.now += 2
        with pytest.raises(ApiException):
            health.why_lost("a")
    reads.failing = False
    reads.facts["b"] = NodeFacts(WELL, 130.0)
    _watch(health, clock, 2)
    assert health.lost() == []
    # Kept silent while the operator reads regularly, a is lost within the limit's time
    # plus one read.
    for renewal in (140.0, 150.0):
        reads.facts["b"] = NodeFacts(WELL, renewal)
        _watch(health, clock, 10)
    assert health.lost() == ["a"]


def test_a_node_registered_since_the_last_read_is_not_gone() -> None:
    clock = Clock()
    reads = Reads({"a": NodeFacts(WELL, 1.0)})
    health = _health(reads, clock)
    assert health.why_lost("a") is None
    reads.facts["b"] = NodeFacts(WELL, 1.0)
    clock.now += 0.5  # within CHECK_SECONDS of the last read
    assert health.why_lost("b") is None
    assert reads.count == 2


def test_the_check_is_off_with_zero_or_without_the_right_to_read_nodes() -> None:
    clock = Clock()
    facts = {"a": NodeFacts("False", None), "b": NodeFacts(WELL, None)}
    health = _health(Reads(facts), clock, lost_after=0)
    assert health.why_lost("a") is None and health.lost() == []
    assert _health(Reads(facts), clock).why_lost("a") is not None
    # No node named (a Pod not yet scheduled): nothing to judge.
    assert _health(Reads({}), clock).why_lost("") is None

    def forbidden() -> tuple[dict[str, NodeFacts], bool]:
        raise ApiException(status=403, reason="Forbidden")

    refused = NodeHealth(30, reader=forbidden, clock=clock)
    assert refused.why_lost("a") is None and refused.to_avoid() == []
    assert not refused.enabled


def test_reads_are_shared_for_check_seconds() -> None:
    clock = Clock()
    reads = Reads({"a": NodeFacts(WELL, 1.0)})
    health = NodeHealth(30, reader=reads, clock=clock)
    for _ in range(5):
        health.why_lost("a")
    assert reads.count == 1
    clock.now += nodes.CHECK_SECONDS
    health.lost()
    assert reads.count == 2


def test_the_default_limit_leaves_a_kubelet_two_missed_renewals() -> None:
    """The margin against a busy machine: the kubelet renews every 10 s, and its Lease
    lasts 40 s. The default counts a node lost only after three renewals' time without
    one, and never later than the Lease's own duration."""
    from prazium_operator.settings import Settings

    limit = Settings.model_fields["node_lost_seconds"].default
    assert 3 * 10 <= limit <= 40
    assert nodes.MAX_CREDIT_SECONDS <= 10
