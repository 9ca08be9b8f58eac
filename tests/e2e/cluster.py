"""kubectl, helm and HTTP against the cluster of PRAZIUM_E2E_KUBECONFIG: nothing here
knows whether it is the local node or kind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

Obj = dict[str, Any]


@dataclass(frozen=True)
class Cluster:
    kubeconfig: str
    kubectl_bin: str
    helm_bin: str
    namespace: str  # the release namespace
    release: str
    # Where NodePorts answer from this host (the local node: 127.0.0.1); empty:
    # Services are reached through `kubectl port-forward` (kind).
    node_address: str

    @classmethod
    def from_env(cls) -> Cluster:
        def need(name: str) -> str:
            value = os.environ.get(name)
            if not value:
                raise RuntimeError(f"{name} is not set: run make helm-e2e or make kind-e2e")
            return value

        return cls(
            kubeconfig=need("PRAZIUM_E2E_KUBECONFIG"),
            kubectl_bin=need("PRAZIUM_E2E_KUBECTL"),
            helm_bin=need("PRAZIUM_E2E_HELM"),
            namespace=os.environ.get("PRAZIUM_E2E_NAMESPACE", "prazium-system"),
            release=os.environ.get("PRAZIUM_E2E_RELEASE", "prazium"),
            node_address=os.environ.get("PRAZIUM_E2E_NODE_ADDRESS", ""),
        )

    @property
    def fullname(self) -> str:
        """The chart's prefix of object names for this release (no fullnameOverride):
        the release's name when it holds the chart's, else <release>-prazium."""
        return self.release if "prazium" in self.release else f"{self.release}-prazium"

    def kubectl(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.kubectl_bin, "--kubeconfig", self.kubeconfig, *args],
            capture_output=True,
            text=True,
            input=input,
            check=False,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def helm(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.helm_bin, "--kubeconfig", self.kubeconfig, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        assert result.returncode == 0, f"helm {' '.join(args)} failed: {result.stderr}"
        return result

    def get(self, *args: str) -> Obj:
        return dict(json.loads(self.kubectl("get", "-o", "json", *args).stdout))

    def can_i(self, user: str, *args: str) -> bool:
        result = self.kubectl("auth", "can-i", "--as", user, *args, check=False)
        return result.stdout.strip() == "yes"

    @contextmanager
    def service_url(self, namespace: str, service: str) -> Iterator[str]:
        """http://host:port of a Service from this host: its NodePort on the node
        address, else a `kubectl port-forward` for as long as the block runs."""
        spec = self.get("-n", namespace, "service", service)["spec"]
        port = spec["ports"][0]
        if self.node_address and port.get("nodePort"):
            yield f"http://{self.node_address}:{port['nodePort']}"
            return
        local = _free_port()
        proc = subprocess.Popen(
            [
                self.kubectl_bin,
                "--kubeconfig",
                self.kubeconfig,
                "-n",
                namespace,
                "port-forward",
                f"svc/{service}",
                f"{local}:{port['port']}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: _port_open(local), 30, f"port-forward to {service}")
            yield f"http://127.0.0.1:{local}"
        finally:
            proc.terminate()
            proc.wait(10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(check: Any, timeout: float, what: str, interval: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, AssertionError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not done after {timeout:.0f} s (last: {last!r})")
