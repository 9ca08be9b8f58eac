"""The network policy gate: a sandbox Pod runs no untrusted code before its egress
NetworkPolicy is in force.

A policy engine programs a new Pod's firewall a moment after the Pod has its address
(kube-router on the local node: one iptables-restore on its next sync after the Pod
update that carries the address; Calico, Cilium and the rest have the same window).
Code that ran in that window would meet no policy at all. So before the first
untrusted command, the Pod's own process (worker/waiting.py, for a worker and for a
verification) checks from inside the Pod that a destination its policy refuses is
refused: the apiserver's `kubernetes` Service, KUBERNETES_SERVICE_HOST and
KUBERNETES_SERVICE_PORT, which the kubelet gives every container (enableServiceLinks or
not). Every Pod reaches the apiserver while no policy selects it (the chart's operator
needs it; the local node's host firewall lets Pods through to it), and no policy of
Prazium's lets a worker or a verification reach it: a worker's allows DNS, the egress
proxy and the admin's networkPolicy.worker.egress, a verification's nothing. The check
does not depend on the egress proxy.

A connection that opens means the policy is not in force yet; one refused, unreachable
or timed out (a policy that drops rather than rejects) means it is. The probe repeats
every PROBE_INTERVAL up to a limit (PRAZIUM_WORKER_POLICY_GATE_SECONDS); past it the
process exits EXIT_NOT_ENFORCED having run nothing, and the operator retries the
attempt (executor/kubernetes.py) or the verification (executor/verification.py).

It runs in a thread beside the process's imports and its wait for the go signal, so it
costs a start nothing when the policy is in force by the time those are done.

Off (PRAZIUM_WORKER_POLICY_GATE=false, the chart's networkPolicy.enabled=false or
networkPolicy.gate.enabled=false) where nothing enforces NetworkPolicy: there the
apiserver stays reachable and every attempt would fail.

A floor below the executors and the worker: both sides import this module, neither the
other. It imports only the standard library's lightest parts: it starts first in a Pod.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

# EX_TEMPFAIL (sysexits.h): a temporary failure, to be tried again. No test runner
# exits with it, so a verification's own tests are not mistaken for the gate.
EXIT_NOT_ENFORCED = 75
# How often a reachable target is probed again, and how long one connection may take:
# a policy that rejects answers at once, one that drops lets the connect time out (an
# open path answers within milliseconds, well inside it).
PROBE_INTERVAL = 0.1
CONNECT_TIMEOUT = 1.0
DEFAULT_LIMIT_SECONDS = 20.0

Target = tuple[str, int]


class NotEnforced(Exception):
    """A sandbox Pod's network policy was not in force within the gate's limit, so its
    untrusted code did not run (the message says so, naming no address)."""


def not_enforced_message(limit: float) -> str:
    """What the Task's event and message, or the Run's, say (no address, no secret)."""
    return f"the Pod's network policy was not in force after {limit:g} s; nothing ran in it"


def service_target(environ: Mapping[str, str] | None = None) -> Target | None:
    """The apiserver's Service as the kubelet gives it to the container; None without."""
    env = os.environ if environ is None else environ
    host = env.get("KUBERNETES_SERVICE_HOST", "").strip()
    port = env.get("KUBERNETES_SERVICE_PORT", "").strip()
    if not host or not port.isdigit():
        return None
    return host, int(port)


def reachable(target: Target, timeout: float = CONNECT_TIMEOUT) -> bool:
    """Whether a TCP connection to target opens (and is closed at once)."""
    try:
        with socket.create_connection(target, timeout=timeout):
            return True
    except OSError:  # refused, unreachable, timed out: blocked
        return False


@dataclass(frozen=True)
class Verdict:
    enforced: bool
    seconds: float  # how long the check took
    probes: int  # rounds of connection attempts
    open_probes: int  # rounds that found a target reachable (the policy not yet in force)
    reason: str = ""  # when not enforced: why, for the Pod's log


def check(
    targets: Sequence[Target],
    limit: float,
    *,
    interval: float = PROBE_INTERVAL,
    timeout: float = CONNECT_TIMEOUT,
    probe: Callable[[Target, float], bool] = reachable,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_open: Callable[[], None] | None = None,
) -> Verdict:
    """Probe targets until none is reachable (enforced) or limit seconds have passed
    (not enforced); at least one round; on_open is called once, when a round first finds
    a target reachable. No target at all is not enforced: there is nothing to tell a
    policy in force from none."""
    started = clock()
    if not targets:
        return Verdict(False, 0.0, 0, 0, "no address to probe (KUBERNETES_SERVICE_HOST unset)")
    probes = opened = 0
    while True:
        probes += 1
        still_open = [f"{host}:{port}" for host, port in targets if probe((host, port), timeout)]
        elapsed = clock() - started
        if not still_open:
            return Verdict(True, elapsed, probes, opened)
        opened += 1
        if opened == 1 and on_open is not None:
            on_open()
        if elapsed + interval > limit:
            reason = f"{', '.join(still_open)} still reachable after {probes} probes"
            return Verdict(False, elapsed, probes, opened, reason)
        sleep(interval)


class Gate:
    """check() in a thread of its own, started now; result() waits for its verdict."""

    def __init__(
        self,
        limit: float,
        targets: Sequence[Target] | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        if targets is None:
            found = service_target()
            targets = [found] if found is not None else []
        self.limit = limit
        self._targets = list(targets)
        self._on_open = on_open
        self._verdict: Verdict | None = None
        self._thread = threading.Thread(target=self._run, name="policy-gate", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._verdict = check(self._targets, self.limit, on_open=self._on_open)
        except Exception as exc:  # never a pass by accident
            self._verdict = Verdict(False, 0.0, 0, 0, f"the check failed: {exc!r}")

    def result(self) -> Verdict:
        self._thread.join()
        assert self._verdict is not None
        return self._verdict
