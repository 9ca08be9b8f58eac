"""The node's network: Pods on the bridge reach a ClusterIP Service (kube-proxy's
iptables rules) and the apiserver through the `kubernetes` Service, both on this
machine only; and what they cannot reach: this machine's ports behind the host
firewall (every Pod), anything but the egress proxy for worker Pods and anything at
all for verification Pods (NetworkPolicies, enforced by kube-router). Worker and
verification Pods run under gVisor beside runc Pods on the same containerd. The Pods
use the Prazium image the node imported (no registry).

kube-router programs a new Pod's firewall a moment after the Pod has its address, so
worker and verification Pods start their code through the policy gate
(prazium_operator/policy_gate.py, worker/waiting.py), as the executors' Pods do: their
first connection already meets their policy. One Pod's policy is held back until its
gate has seen the apiserver open, and a worker Job whose policy never comes runs
nothing and is lost, saying why."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from prazium_kit import paths
from prazium_operator import policy_gate
from prazium_operator.executor import verification
from prazium_operator.executor.base import WorkerState
from prazium_operator.executor.kubernetes import KubernetesExecutor
from prazium_operator.settings import Settings
from prazium_operator.worker.waiting import GO_LINE, NOT_ENFORCED_LINE, POLICY_WAIT_LINE
from prazium_operator.worker_contract import WorkerRequest, log_path
from tests.support.node import WORKER_SA, job_namespace, node, pod, stack_port
from tests.support.services import Stack, wait_for

pytestmark = pytest.mark.integration

# Fetches both URLs; exits non-zero (and says why) unless both answer.
CLIENT = """
import ssl, sys, time, urllib.error, urllib.request
service, apiserver = sys.argv[1], sys.argv[2]
# kube-proxy programs a Service's rules a moment after its endpoint turns ready (until
# then iptables rejects the ClusterIP): retry refusals for a while, as clients do.
for attempt in range(30):
    try:
        page = urllib.request.urlopen(service, timeout=10).read().decode()
        break
    except urllib.error.URLError as exc:
        if attempt == 29:
            raise
        print("not yet:", exc, flush=True)
        time.sleep(1)
assert "served-by-the-echo-pod" in page, page
ready = urllib.request.urlopen(apiserver, timeout=10,
                               context=ssl._create_unverified_context()).read().decode()
assert ready == "ok", ready
print("both answered")
"""


def _pod(
    name: str,
    command: list[str],
    labels: dict[str, str] | None = None,
    runtime_class: str = "",
) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "main",
                    "image": node().worker_image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }
    if runtime_class:
        manifest["spec"]["runtimeClassName"] = runtime_class
    return manifest


def _gated(command: list[str], limit: float = 20) -> list[str]:
    """command started as the executors start a Pod's work: through the waiting process
    and its policy gate (the go signal given at once)."""
    waiting = ["python", "-m", "prazium_operator.worker.waiting", "--go", "/tmp/go"]
    start = 'touch /tmp/go && exec "$@"'
    return ["sh", "-c", start, "gated", *waiting, "--policy-gate", f"{limit:g}", "--", *command]


def _log_lines(namespace: str, name: str) -> list[dict[str, Any]]:
    """The JSON lines of a Pod's log (the waiting process's)."""
    text = client.CoreV1Api().read_namespaced_pod_log(name, namespace)
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_pods_reach_a_cluster_ip_service_and_the_apiserver_through_kube_proxy(
    stack: Stack, namespace: str
) -> None:
    core = client.CoreV1Api()
    core.create_namespaced_pod(
        namespace,
        _pod(
            "echo",
            [
                "sh",
                "-c",
                "echo served-by-the-echo-pod > /tmp/index.html"
                " && exec python -m http.server 8080 --bind 0.0.0.0 --directory /tmp",
            ],
            labels={"app": "echo"},
        ),
    )
    service = core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "echo"},
            "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]},
        },
    )
    cluster_ip = service.spec.cluster_ip
    kubernetes_ip = core.read_namespaced_service("kubernetes", "default").spec.cluster_ip

    def echo_ready() -> bool:
        obj = pod(namespace, "echo") or {}
        return any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (obj.get("status") or {}).get("conditions") or []
        )

    wait_for(echo_ready, 60, "the echo Pod to run")
    core.create_namespaced_pod(
        namespace,
        _pod(
            "client",
            ["python", "-c", CLIENT, f"http://{cluster_ip}/", f"https://{kubernetes_ip}/readyz"],
        ),
    )

    def finished() -> str | None:
        phase = ((pod(namespace, "client") or {}).get("status") or {}).get("phase")
        return phase if phase in ("Succeeded", "Failed") else None

    phase = wait_for(finished, 90, "the client Pod to finish")
    output = core.read_namespaced_pod_log("client", namespace)
    assert phase == "Succeeded", output
    assert "both answered" in output


# Opens a TCP connection to each name=host:port given, then prints what happened and
# the kernel the Pod sees (gVisor's own under runsc).
CONNECT = """
import json, socket, sys, time
found = {}
for spec in sys.argv[1:]:
    name, target = spec.split("=", 1)
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
        found[name] = "open"
    except OSError as exc:
        found[name] = "closed:" + type(exc).__name__
print("FOUND " + json.dumps(found, sort_keys=True))
print("KERNEL " + open("/proc/version").read().strip())
"""


@contextmanager
def _listening(host: str, port: int = 0) -> Iterator[int]:
    """A TCP listener on this machine (accepts and closes): something a Pod could reach
    if nothing stopped it. Yields its port."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(16)
    server.settimeout(0.5)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


def _finished(namespace: str, name: str) -> str | None:
    phase = ((pod(namespace, name) or {}).get("status") or {}).get("phase")
    return phase if phase in ("Succeeded", "Failed") else None


def _report(namespace: str, name: str) -> tuple[dict[str, str], str]:
    wait_for(lambda: _finished(namespace, name), 120, f"Pod {name} to finish")
    output = client.CoreV1Api().read_namespaced_pod_log(name, namespace)
    found = next(line for line in output.splitlines() if line.startswith("FOUND "))
    kernel = next(line for line in output.splitlines() if line.startswith("KERNEL "))
    return json.loads(found[len("FOUND ") :]), kernel[len("KERNEL ") :]


def test_pods_reach_only_what_the_host_firewall_and_their_network_policy_allow(
    stack: Stack, tmp_path: Path
) -> None:
    """From a worker, a verification and a plain Pod in a job namespace: this machine's
    PostgreSQL, apiserver, kubelet and a service listening on all addresses (as the
    operator's metrics and the API may) are closed to all three; the apiserver's
    Service is open to the plain Pod only (the chart's operator and API need it), the
    egress proxy port to the worker and the plain Pod, nothing at all to verification.
    Worker and verification Pods run under the node's worker runtime, the plain one
    under runc, on the same containerd. Worker and verification probe at once, through
    the policy gate only (nothing here waits for kube-router's rules)."""
    gateway = node().host_address
    core = client.CoreV1Api()
    host_kernel = Path("/proc/version").read_text().strip()
    kubernetes_ip = core.read_namespaced_service("kubernetes", "default").spec.cluster_ip
    with (
        job_namespace(tmp_path / "data") as ns,
        _listening("0.0.0.0") as anywhere,
        _listening(gateway, node().egress_port),
    ):
        # Each closed port is open from this machine itself: what stops the Pods is
        # the firewall and the policies, not an absent listener.
        for port in (stack_port("PG"), stack_port("APISERVER"), anywhere):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        socket.create_connection((gateway, stack_port("KUBELET")), timeout=5).close()
        targets = [
            f"postgres={gateway}:{stack_port('PG')}",
            f"apiserver={gateway}:{stack_port('APISERVER')}",
            f"apiserverService={kubernetes_ip}:443",
            f"kubelet={gateway}:{stack_port('KUBELET')}",
            f"listening={gateway}:{anywhere}",
            f"egressProxy={gateway}:{node().egress_port}",
        ]
        command = ["python", "-c", CONNECT, *targets]
        runtime = node().runtime_class
        for name, labels, runtime_class, argv in (
            ("worker", {"prazium.io/role": "worker"}, runtime, _gated(command)),
            ("verification", {"prazium.io/role": "verification"}, runtime, _gated(command)),
            ("plain", {}, "", command),  # no policy selects it: nothing to wait for
        ):
            core.create_namespaced_pod(ns, _pod(name, argv, labels, runtime_class))
        reports = {name: _report(ns, name) for name in ("worker", "verification", "plain")}
        gates = {
            name: next(x for x in _log_lines(ns, name) if x["message"] == GO_LINE)
            for name in ("worker", "verification")
        }

    always_closed = ("postgres", "apiserver", "kubelet", "listening")
    for name, (found, _) in reports.items():
        for target in always_closed:
            assert found[target].startswith("closed:"), (name, target, found)
    worker, verification, plain = (reports[n][0] for n in ("worker", "verification", "plain"))
    assert worker["egressProxy"] == "open", worker
    assert worker["apiserverService"].startswith("closed:"), worker
    assert all(v.startswith("closed:") for v in verification.values()), verification
    assert plain["apiserverService"] == "open", plain
    assert plain["egressProxy"] == "open", plain

    for name, go in gates.items():  # the gate probed before the probe ran
        assert go["policyProbes"] >= 1, (name, go)

    assert reports["plain"][1] == host_kernel
    if runtime == "gvisor":
        for name in ("worker", "verification"):
            kernel = reports[name][1]
            assert kernel != host_kernel and "gvisor" in kernel.lower(), (name, kernel)
    else:
        assert reports["worker"][1] == host_kernel


WORKER_ROLE = {"prazium.io/role": "worker"}
VERIFICATION_ROLE = {"prazium.io/role": "verification"}


def _take_policy(namespace: str, role: dict[str, str]) -> dict[str, Any]:
    """Delete the job namespace's NetworkPolicy for role (node.sh workload); its body,
    to create it again."""
    networking = client.NetworkingV1Api()
    policies = networking.list_namespaced_network_policy(namespace).items
    [found] = [p for p in policies if p.spec.pod_selector.match_labels == role]
    body = client.ApiClient().sanitize_for_serialization(found)
    networking.delete_namespaced_network_policy(found.metadata.name, namespace)
    return {"metadata": {"name": body["metadata"]["name"]}, "spec": body["spec"]}


def _executor_settings(namespace: str, data: Path) -> Settings:
    """The kubernetes executor's settings for the job namespace, with a 2 s gate."""
    return Settings(
        executor="kubernetes",
        data_dir=data,
        job_namespace=namespace,
        worker_image=node().worker_image,
        worker_image_pull_policy="Never",
        worker_service_account=WORKER_SA,
        worker_runtime_class=node().runtime_class,
        worker_policy_gate_seconds=2,
    )


def _gate_stopped_job(settings: Settings) -> tuple[str, list[dict[str, Any]]]:
    """A task attempt's Job from the kubernetes executor, its worker policy away: the
    executor's verdict once its Pod ended, and the attempt's kept log."""
    data = settings.data_dir
    repo = paths.repo_path(data, "t1", "shop")
    repo.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "--quiet", "--bare", str(repo)], check=True)
    result = paths.result_path(data, "t1", "shop-1", "task-001", 1)
    request = WorkerRequest(
        namespace="t1",
        project="shop",
        run="shop-1",
        task={"id": "task-001", "slug": "shell", "pathScope": ["app/**"]},
        documents={},
        repo_path=str(repo),
        worktree=str(paths.task_worktree(data, "t1", "shop", "shop-1", "task-001")),
        branch="feat/task-001",
        base_commit="0" * 40,
        attempt=1,
        result_path=str(result),
    )

    async def run() -> str:
        executor = KubernetesExecutor(settings)
        ref = await executor.start(request, {"metadata": {"name": "shop-1-task-001"}})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = await executor.state(ref, request)
            if status.state is not WorkerState.RUNNING:
                assert status.state is WorkerState.LOST, status  # retried, never failed
                await executor.release(ref, request)
                return status.message
            await asyncio.sleep(0.5)
        raise AssertionError("the worker Job did not end")

    message = asyncio.run(run())
    assert not result.exists()
    kept = log_path(result).read_text()
    return message, [json.loads(x) for x in kept.splitlines() if x.startswith("{")]


def _verification_without_policy(settings: Settings) -> str:
    """A run's verification through the kubernetes executor's runner, its policy away:
    what it raised. Had its test command started in any of its Pods, the runner would
    have returned that Pod's outcome instead."""
    runner = verification.JobRunner(settings, "t1", "shop", "shop-1")

    def export(tree: Path) -> None:
        (tree / "tests.sh").write_text("exit 0\n")

    try:
        asyncio.run(runner.run(export, ["sh", "tests.sh"], 60))
    except policy_gate.NotEnforced as exc:
        return str(exc)
    raise AssertionError("the verification ran without its network policy")


def test_a_pods_work_waits_for_its_network_policy_and_never_runs_without_it(
    stack: Stack, tmp_path: Path
) -> None:
    """The worker and verification policies of a job namespace are taken away. A worker
    Job of the kubernetes executor (gate 2 s) runs nothing: its process exits 75, the
    attempt's log says the policy was not in force, and the executor reports the
    attempt lost (so it is run again) with that reason. A verification tries 3 Pods,
    none runs the tests, and the runner says why. A worker Pod started meanwhile (gate
    20 s) finds the apiserver's Service open, says it waits, and holds its first
    command until the policy is back and enforced: that command then finds the Service
    closed."""
    core = client.CoreV1Api()
    kubernetes_ip = core.read_namespaced_service("kubernetes", "default").spec.cluster_ip
    data = tmp_path / "data"
    with job_namespace(data) as ns, ThreadPoolExecutor(1) as pool:
        policy = _take_policy(ns, WORKER_ROLE)
        _take_policy(ns, VERIFICATION_ROLE)
        settings = _executor_settings(ns, data)
        verifying = pool.submit(_verification_without_policy, settings)
        probe = ["python", "-c", CONNECT, f"apiserverService={kubernetes_ip}:443"]
        manifest = _pod("late", _gated(probe), WORKER_ROLE, node().runtime_class)
        manifest["spec"]["enableServiceLinks"] = False  # as the executors' Pods
        core.create_namespaced_pod(ns, manifest)

        message, kept = _gate_stopped_job(settings)
        assert message == policy_gate.not_enforced_message(2), message
        messages = [x["message"] for x in kept]
        assert POLICY_WAIT_LINE in messages and NOT_ENFORCED_LINE in messages, messages
        assert GO_LINE not in messages and not any("started (coder" in m for m in messages)
        stopped = next(x for x in kept if x["message"] == NOT_ENFORCED_LINE)
        assert "still reachable" in stopped["detail"], stopped  # probed, not unset

        # By now the late Pod has found the Service open too: it says so, and waits.
        def waits() -> bool:
            return any(x["message"] == POLICY_WAIT_LINE for x in _log_lines(ns, "late"))

        wait_for(waits, 60, "the late Pod to find its policy not in force")
        assert not _finished(ns, "late")
        client.NetworkingV1Api().create_namespaced_network_policy(ns, policy)
        found, _ = _report(ns, "late")
        lines = _log_lines(ns, "late")
        refused = verifying.result(timeout=180)

    assert found["apiserverService"].startswith("closed:"), found
    go = next(x for x in lines if x["message"] == GO_LINE)
    assert go["policyOpenProbes"] >= 1 and go["policyProbes"] > go["policyOpenProbes"], go
    assert refused == policy_gate.not_enforced_message(2) + " (3 Pods)", refused


def test_the_bridge_keeps_its_address_as_pods_come_and_go() -> None:
    """A Linux bridge whose address was never set takes the lowest of its ports' as
    veths come and go; Pods already running keep the old one in their ARP caches and
    their frames to the host (the egress proxy, the apiserver) are flooded to the other
    Pods instead, until the entry expires. The node sets the bridge's address, which
    pins it (the kernel's NET_ADDR_SET, 3)."""
    found = json.loads(
        subprocess.run(
            ["ip", "-j", "-4", "addr", "show"], check=True, capture_output=True, text=True
        ).stdout
    )
    bridges = [
        link["ifname"]
        for link in found
        if any(a.get("local") == node().host_address for a in link.get("addr_info", []))
    ]
    assert len(bridges) == 1, bridges
    assign_type = Path(f"/sys/class/net/{bridges[0]}/addr_assign_type").read_text().strip()
    assert assign_type == "3", f"{bridges[0]}: addr_assign_type {assign_type}, not set"
