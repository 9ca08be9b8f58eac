"""`make up` / `make down` (scripts/stack.sh) on free ports in a scratch directory."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support.services import ROOT, free_port

pytestmark = pytest.mark.integration


def _stack_env(dev_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRAZIUM_")}
    env.update(
        PRAZIUM_DEV_DIR=str(dev_dir),
        PRAZIUM_APISERVER_PORT=str(free_port()),
        PRAZIUM_ETCD_PORT=str(free_port()),
        PRAZIUM_ETCD_PEER_PORT=str(free_port()),
        PRAZIUM_CM_PORT=str(free_port()),
        PRAZIUM_PG_PORT=str(free_port()),
        PRAZIUM_API_PORT=str(free_port()),
        # The node's ports and its pod CIDR: apart from make up's and make test's.
        PRAZIUM_SCHEDULER_PORT=str(free_port()),
        PRAZIUM_KUBELET_PORT=str(free_port()),
        PRAZIUM_KUBELET_HEALTHZ_PORT=str(free_port()),
        PRAZIUM_PROXY_HEALTHZ_PORT=str(free_port()),
        PRAZIUM_PROXY_METRICS_PORT=str(free_port()),
        PRAZIUM_POD_CIDR=f"10.246.{uuid.uuid4().int % 250}.0/24",
    )
    return env


def _node_leftovers(dev_dir: Path) -> list[str]:
    """What a node of this stack could leave on the machine: mounts under its directory,
    its bridge, its DNAT chain (names from scripts/node.sh's stack id)."""
    stack_id = hashlib.sha256(f"{dev_dir}\n".encode()).hexdigest()[:6]
    mounts = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(dev_dir))
    ]
    links = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    nat = subprocess.run(
        ["iptables", "-t", "nat", "-S"], capture_output=True, text=True, check=True
    ).stdout
    return [
        *mounts,
        *([f"bridge pz{stack_id}"] if f" pz{stack_id}:" in links else []),
        *([f"chain PRAZIUM-{stack_id}"] if f"PRAZIUM-{stack_id}" in nat else []),
    ]


def _script(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _processes_under(dev_dir: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if str(dev_dir) in line]


def test_up_is_healthy_and_down_leaves_no_process(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    env = _stack_env(dev)
    try:
        up = _script("stack.sh", "up", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        api = f"http://127.0.0.1:{env['PRAZIUM_API_PORT']}"
        assert f"API          {api}" in up.stdout
        health = httpx.get(f"{api}/v1/health", timeout=10)
        assert health.status_code == 200
        assert set(health.json()["components"].values()) == {"healthy"}
        # The default: tasks run as Jobs on this stack's own node (workers under the
        # node's runtime: gVisor unless PRAZIUM_RUNTIME=runc).
        assert "(executor: kubernetes, workers under " in up.stdout
        assert "node prazium-node ready" in up.stderr
        assert _node_leftovers(dev), "the node's bridge, chain and mounts exist while up"

        kubectl = [str(dev / "bin" / "kubectl"), "--kubeconfig", str(dev / "kubeconfig")]
        applied = subprocess.run(
            [*kubectl, "apply", "-f", str(ROOT / "examples/project.yaml")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert applied.returncode == 0, applied.stderr
        deadline = time.monotonic() + 30
        phase = ""
        while not phase and time.monotonic() < deadline:
            phase = subprocess.run(
                [*kubectl, "get", "project", "todo-app", "-o", "jsonpath={.status.phase}"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            time.sleep(0.3)
        assert phase, "the operator set no status.phase within 30 s"

        # Up again is a no-op that still reports healthy.
        again = _script("stack.sh", "up", env=env)
        assert again.returncode == 0, again.stderr
    finally:
        down = _script("stack.sh", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert _processes_under(dev) == []
    assert _node_leftovers(dev) == []
    assert _script("stack.sh", "down", env=env).returncode == 0  # safe to run twice
    _script("postgres.sh", "purge", env=env)


def test_down_after_a_crash_cleans_up(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    env = _stack_env(dev)
    try:
        assert _script("cluster.sh", "start", env=env).returncode == 0
        assert _script("postgres.sh", "start", env=env).returncode == 0
        # A crash: the apiserver and the PostgreSQL postmaster die without cleanup.
        os.kill(int((dev / "cluster" / "apiserver.pid").read_text()), signal.SIGKILL)
        postmaster = int((dev / "postgres" / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGKILL)
        time.sleep(0.5)
    finally:
        down = _script("stack.sh", "down", env=env)
    assert down.returncode == 0, down.stderr
    assert _processes_under(dev) == []
    # And it starts again over the leftovers.
    try:
        assert _script("cluster.sh", "start", env=env).returncode == 0
        assert _script("postgres.sh", "start", env=env).returncode == 0
    finally:
        _script("stack.sh", "down", env=env)
        _script("postgres.sh", "purge", env=env)
    assert _processes_under(dev) == []


def test_a_taken_port_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    env = _stack_env(tmp_path / "dev")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["PRAZIUM_APISERVER_PORT"])))
        squatter.listen()
        started = time.monotonic()
        result = _script("cluster.sh", "start", env=env)
        elapsed = time.monotonic() - started
    _script("cluster.sh", "stop", env=env)
    assert result.returncode != 0
    assert f"port {env['PRAZIUM_APISERVER_PORT']} (for kube-apiserver) is already in use" in (
        result.stderr
    )
    assert elapsed < 30
