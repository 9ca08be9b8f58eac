"""The node's network: Pods on the bridge reach a ClusterIP Service (kube-proxy's
iptables rules) and the apiserver through the `kubernetes` Service, both on this
machine only; and what they cannot reach: this machine's ports behind the host
firewall (every Pod), anything but the egress proxy for worker Pods and anything at
all for verification Pods (NetworkPolicies, enforced by kube-router). Worker and
verification Pods run under gVisor beside runc Pods on the same containerd. The Pods
use the Prazium image the node imported (no registry)."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from tests.support.node import job_namespace, node, pod, stack_port
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


# A probe Pod waits for this file before it connects: the test writes it once the
# Pod's own firewall chain is in place (see _firewalled).
GATED = 'while [ ! -e /tmp/go ]; do sleep 0.2; done; exec "$@"'


def _firewalled(namespace: str, name: str) -> bool:
    """kube-router has written this Pod's firewall chain: it programs a new Pod's
    rules a moment after the Pod has its address (one iptables-restore per sync, the
    REJECT rule last), so code that ran earlier would meet no policy yet."""
    rules = subprocess.run(
        ["iptables-save", "-t", "filter"], capture_output=True, text=True, check=True
    ).stdout
    return f"destined for POD name:{name} namespace: {namespace}" in rules


def _release(stack: Stack, namespace: str, name: str) -> None:
    """Let a gated probe Pod connect, once it runs."""

    def running() -> bool:
        found = (pod(namespace, name) or {}).get("status") or {}
        return found.get("phase") == "Running"

    wait_for(running, 120, f"Pod {name} to run")
    subprocess.run(
        [
            stack.kubectl,
            "--kubeconfig",
            stack.kubeconfig,
            "exec",
            "-n",
            namespace,
            name,
            "--",
            "touch",
            "/tmp/go",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )


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
    under runc, on the same containerd."""
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
        command = ["sh", "-c", GATED, "probe", "python", "-c", CONNECT, *targets]
        runtime = node().runtime_class
        for name, labels, runtime_class in (
            ("worker", {"prazium.io/role": "worker"}, runtime),
            ("verification", {"prazium.io/role": "verification"}, runtime),
            ("plain", {}, ""),
        ):
            core.create_namespaced_pod(ns, _pod(name, command, labels, runtime_class))
        for name in ("worker", "verification"):  # the Pods their policies select
            wait_for(lambda n=name: _firewalled(ns, n), 60, f"kube-router's chain for {name}")
        for name in ("worker", "verification", "plain"):
            _release(stack, ns, name)
        reports = {name: _report(ns, name) for name in ("worker", "verification", "plain")}

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

    assert reports["plain"][1] == host_kernel
    if runtime == "gvisor":
        for name in ("worker", "verification"):
            kernel = reports[name][1]
            assert kernel != host_kernel and "gvisor" in kernel.lower(), (name, kernel)
    else:
        assert reports["worker"][1] == host_kernel
