"""The node's network: Pods on the bridge reach a ClusterIP Service (kube-proxy's
iptables rules) and the apiserver through the `kubernetes` Service, both on this
machine only. The Pods use the Prazium image the node imported (no registry)."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from tests.support.node import node, pod
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


def _pod(name: str, command: list[str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
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
