"""The operator's own judgement of lost nodes (executor/nodes.py): a node is lost when it
is gone, not Ready, or its Lease has kept the same renewTime for longer than
node_lost_seconds on the operator's clock; new Pods avoid lost nodes only while another
node is well. The Node and Lease reads are given as plain facts here; the integration
tests (tests/integration/test_two_nodes.py) read them from a real apiserver."""

from __future__ import annotations

from kubernetes.client.exceptions import ApiException

from prazium_operator.executor import nodes
from prazium_operator.executor.nodes import NodeFacts, NodeHealth


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _health(facts: dict[str, NodeFacts], clock: Clock, lost_after: float = 30.0) -> NodeHealth:
    return NodeHealth(lost_after, reader=lambda: (facts, True), clock=clock)


def test_a_node_is_lost_when_gone_or_not_ready() -> None:
    assert nodes.judge("a", None, None, 30) == "node a is gone"
    assert "not ready (Ready=Unknown)" in str(nodes.judge("a", NodeFacts("Unknown", 1.0), 0, 30))
    assert "Ready=unknown" in str(nodes.judge("a", NodeFacts("", None), None, 30))
    assert nodes.judge("a", NodeFacts("True", 1.0), 29.9, 30) is None
    assert nodes.judge("a", NodeFacts("True", None), None, 30) is None


def test_a_lease_silent_longer_than_the_limit_on_the_operators_clock_makes_it_lost() -> None:
    clock = Clock()
    facts = {"a": NodeFacts("True", 500.0), "b": NodeFacts("True", 500.0)}
    health = _health(facts, clock)
    # The renewTime itself is old (another clock): silence counts from when it was seen.
    assert health.why_lost("a") is None
    clock.now += 20
    facts["b"] = NodeFacts("True", 520.0)  # b renews, a does not
    assert health.lost() == []
    clock.now += 15
    assert health.lost() == ["a"]
    assert "has not renewed its lease for 35 s" in str(health.why_lost("a"))
    assert health.why_lost("b") is None
    assert health.to_avoid() == ["a"]


def test_nothing_is_avoided_when_no_other_node_is_well() -> None:
    clock = Clock()
    health = _health({"a": NodeFacts("True", 1.0)}, clock)
    health.why_lost("a")
    clock.now += 60
    assert health.lost() == ["a"]
    assert health.to_avoid() == []


def test_the_check_is_off_with_zero_or_without_the_right_to_read_nodes() -> None:
    clock = Clock()
    health = _health({"a": NodeFacts("False", None)}, clock, lost_after=0)
    assert health.why_lost("a") is None and health.lost() == []
    assert _health({"a": NodeFacts("False", None)}, clock).why_lost("a") is not None
    # No node named (a Pod not yet scheduled): nothing to judge.
    assert _health({}, clock).why_lost("") is None

    def forbidden() -> tuple[dict[str, NodeFacts], bool]:
        raise ApiException(status=403, reason="Forbidden")

    refused = NodeHealth(30, reader=forbidden, clock=clock)
    assert refused.why_lost("a") is None and refused.to_avoid() == []
    assert not refused.enabled


def test_reads_are_shared_for_check_seconds() -> None:
    clock = Clock()
    reads = []

    def reader() -> tuple[dict[str, NodeFacts], bool]:
        reads.append(clock.now)
        return {"a": NodeFacts("True", 1.0)}, True

    health = NodeHealth(30, reader=reader, clock=clock)
    for _ in range(5):
        health.why_lost("a")
    assert len(reads) == 1
    clock.now += nodes.CHECK_SECONDS
    health.lost()
    assert len(reads) == 2
