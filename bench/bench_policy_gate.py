"""Benchmark: what the network policy gate adds to a worker Pod's start.

What it does: on the stack's node, in a job namespace with the chart's policies (worker
Pods reach the egress proxy only, enforced by kube-router), starts worker Pods (label
prazium.io/role=worker, the node's worker runtime: gVisor by default) the way the
kubernetes executor starts a task whose Job is created when the task may begin: the
waiting process (worker/waiting.py) in worker mode, its go signal already given, so
it imports the worker and goes on at once. Half of them run with the gate
(--policy-gate 20), half without (--policy-gate 0), interleaved, PRAZIUM_BENCH_GATE_PODS
(default 12) each, PRAZIUM_BENCH_GATE_BATCH (default 3) at a time. The request each is
given is not JSON, so the worker stops right after its go line (exit 2): nothing but
the start is measured. Then as many verification Pods (prazium.io/role=verification)
started as a verification Job created when the tests may begin: the waiting process in
command mode, go given, gate on, `true` as the tests; nothing to import, so the gate's
check is the start's own wait.

From each Pod's own go line (JSON, the Pod's log):
  imports            process start -> the worker and its coder imported (gate thread
                     running beside it, or not)
  gate check         process start -> the gate's verdict (probes of the apiserver's
                     Service until refused: how long kube-router took to program the
                     Pod's rules, as the Pod saw it)
  gate wait          how long the start waited for the verdict after its imports and
                     the go signal: the latency the gate adds to the task's start
  open at first      share of Pods whose first probe found the Service reachable (their
                     policy not yet in force when their code would have started)
  check, in force    the check's own cost when its first probe is refused already
  verification wait  the same gate wait in a verification Pod (no imports to hide it)
Reported as p50 / p90 / max in milliseconds, with the load average.

How to run (a throw-away control plane, node and PostgreSQL, like `make test`; the node
needs root and the machine's node lock):

    flock /tmp/prazium-node.lock make bench-policy-gate
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "kit"), str(ROOT / "operator")]

import pytest  # noqa: E402
from kubernetes import client, config  # noqa: E402

from prazium_operator.worker.waiting import GO_LINE, WAITING_LINE  # noqa: E402
from tests.support.node import job_namespace, node  # noqa: E402
from tests.support.services import wait_for  # noqa: E402

# The go signal names the request's SHA-256; the request is not JSON (the worker stops).
START = (
    'printf not-json > /tmp/request && sha256sum /tmp/request | cut -c1-64 | tr -d "\\n"'
    " > /tmp/go && exec python -m prazium_operator.worker.waiting --go /tmp/go"
    ' --request /tmp/request --log /tmp/log --coder template --policy-gate "$0"'
)
# A verification's: the go file empty (nothing to start from), then the tests.
START_VERIFICATION = (
    "touch /tmp/go && exec python -m prazium_operator.worker.waiting --go /tmp/go"
    ' --policy-gate "$0" -- true'
)


def pod_manifest(name: str, gate: str, role: str = "worker") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": 1,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "worker",
                "image": node().worker_image,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", START if role == "worker" else START_VERIFICATION, gate],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if node().runtime_class:
        spec["runtimeClassName"] = node().runtime_class
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"prazium.io/role": role}},
        "spec": spec,
    }


def lines_of(namespace: str, name: str) -> dict[str, dict[str, Any]]:
    text = client.CoreV1Api().read_namespaced_pod_log(name, namespace)
    found: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            found.setdefault(str(record.get("message")), record)
    return found


def finished(namespace: str, name: str) -> bool:
    pod: Any = client.CoreV1Api().read_namespaced_pod(name, namespace)
    return bool(pod.status and pod.status.phase in ("Succeeded", "Failed"))


def run_pods(namespace: str, count: int, batch: int) -> dict[str, list[dict[str, Any]]]:
    """count Pods per mode (gate on, off), batch at a time, interleaved: their go lines."""
    core = client.CoreV1Api()
    order = [("on", "20"), ("off", "0")] * count + [("verification", "20")] * count
    results: dict[str, list[dict[str, Any]]] = {"on": [], "off": [], "verification": []}
    for start in range(0, len(order), batch):
        names = []
        for index, (mode, gate) in enumerate(order[start : start + batch], start):
            name = f"gate-{mode}-{index}"
            role = "verification" if mode == "verification" else "worker"
            core.create_namespaced_pod(namespace, pod_manifest(name, gate, role))
            names.append((mode, name))
        for mode, name in names:
            wait_for(lambda n=name: finished(namespace, n), 180, f"Pod {name} to finish")
            lines = lines_of(namespace, name)
            assert GO_LINE in lines, (name, lines)
            assert mode == "verification" or WAITING_LINE in lines, (name, lines)
            results[mode].append(lines[GO_LINE])
            core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    return results


def percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    return f"{at(0.5) * 1000:.0f} / {at(0.9) * 1000:.0f} / {ordered[-1] * 1000:.0f} ms"


def report(results: dict[str, list[dict[str, Any]]]) -> str:
    on, off = results["on"], results["off"]
    opened = [r for r in on if r.get("policyOpenProbes", 0) > 0]
    in_force = [r for r in on if r.get("policyOpenProbes", 0) == 0]
    rows = [
        ("imports, gate off", percentiles([r["importSeconds"] for r in off])),
        ("imports, gate on", percentiles([r["importSeconds"] for r in on])),
        ("gate check", percentiles([r["policyGateSeconds"] for r in on])),
        ("gate wait (added)", percentiles([r["policyGateWaitSeconds"] for r in on])),
        ("check, in force", percentiles([r["policyGateSeconds"] for r in in_force])),
        (
            "verification wait",
            percentiles([r["policyGateWaitSeconds"] for r in results["verification"]]),
        ),
    ]
    verifying = len(results["verification"])
    lines = [
        f"policy gate, {len(on)} + {len(off)} worker Pods, {verifying} verification Pods"
        " (p50 / p90 / max):"
    ]
    lines += [f"  {label:<20} {value}" for label, value in rows]
    lines.append(f"  open at first        {len(opened)} of {len(on)} worker Pods")
    seen = sum(r.get("policyOpenProbes", 0) > 0 for r in results["verification"])
    lines.append(f"  open at first        {seen} of {verifying} verification Pods")
    runtime = node().runtime_class or "runc"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines.append(f"runtime {runtime}; machine: {os.cpu_count()} cores, load average {load}")
    return "\n".join(lines)


@pytest.mark.timeout(1800)
def test_bench_policy_gate(tmp_path: Path) -> None:
    """Entry point when run through scripts/test.sh (pytest starts nothing else)."""
    started = time.monotonic()
    count = int(os.environ.get("PRAZIUM_BENCH_GATE_PODS", "12"))
    batch = int(os.environ.get("PRAZIUM_BENCH_GATE_BATCH", "3"))
    if os.environ.get("PRAZIUM_TEST_WORKER_POLICY_GATE") != "true":
        pytest.fail("this stack's node enforces no NetworkPolicy (kube-router is another's)")
    config.load_kube_config(config_file=os.environ["PRAZIUM_TEST_KUBECONFIG"])
    with job_namespace(tmp_path / "data") as namespace:
        results = run_pods(namespace, count, batch)
    print("\n" + report(results))
    print(f"bench took {time.monotonic() - started:.1f} s")
