"""The test stack's node (scripts/test.sh starts containerd, kubelet and kube-proxy):
job namespaces whose worker Jobs really run, and reads of their Pods; the second node
of a stack started with PRAZIUM_NODES=2 for the two-node tests.

Tests that need the node fail (never skip) without it, saying how to run them.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

NODE_NAME = "prazium-node"
SECOND_NODE = "prazium-node-2"
NODE_NAMES = (NODE_NAME, SECOND_NODE)
WORKER_UID = 10001
WORKER_SA = "prazium-worker"


@dataclass(frozen=True)
class Node:
    script: str
    worker_image: str
    host_address: str

    @property
    def runtime_class(self) -> str:
        """The worker RuntimeClass of this stack (gvisor; "" under PRAZIUM_RUNTIME=runc)."""
        return os.environ.get("PRAZIUM_TEST_WORKER_RUNTIME_CLASS", "")

    @property
    def egress_port(self) -> int:
        """Where worker Pods reach the operator's egress proxy (on host_address)."""
        return int(os.environ["PRAZIUM_EGRESS_PORT"])


def stack_port(name: str) -> int:
    """A port of this test stack (scripts/test.sh exports them): PG, APISERVER, KUBELET."""
    return int(os.environ[f"PRAZIUM_{name}_PORT"])


def node() -> Node:
    script = os.environ.get("PRAZIUM_TEST_NODE_SCRIPT")
    image = os.environ.get("PRAZIUM_TEST_WORKER_IMAGE")
    host = os.environ.get("PRAZIUM_TEST_NODE_HOST_ADDRESS")
    if not (script and image and host):
        pytest.fail(
            "this test runs worker Pods on the test stack's node: run `make test` as "
            "root with the node (PRAZIUM_NODE=1, the default)"
        )
    return Node(script=script, worker_image=image, host_address=host)


REPO_CLAIM = "prazium-repos"  # the claim node.sh workload binds to the data dir


@contextmanager
def job_namespace(data_dir: Path) -> Iterator[str]:
    """A namespace for worker Jobs with the repo volume on data_dir bound to the claim
    prazium-repos, the worker ServiceAccount and the NetworkPolicies (node.sh workload);
    deleted with its PersistentVolume afterwards."""
    name = f"pzj-{uuid.uuid4().hex[:10]}"
    proc = subprocess.run(
        [node().script, "workload", name, str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    core = client.CoreV1Api()
    # The PersistentVolume controller binds the claim a moment later; a Pod created
    # before then is reported unschedulable ("unbound immediate PersistentVolumeClaims").
    deadline = time.monotonic() + 60
    while core.read_namespaced_persistent_volume_claim(REPO_CLAIM, name).status.phase != "Bound":
        assert time.monotonic() < deadline, f"the claim {REPO_CLAIM} in {name} is not bound"
        time.sleep(0.2)
    try:
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")
        for pv in core.list_persistent_volume().items:
            claim = pv.spec.claim_ref
            if claim is not None and claim.namespace == name:
                core.delete_persistent_volume(pv.metadata.name)


def operator_env(job_ns: str, **extra: str) -> dict[str, str]:
    """The operator's settings for running its tasks as Jobs on the node: under the
    node's worker runtime (gVisor unless PRAZIUM_RUNTIME=runc), with its egress proxy on
    the node's bridge address (the job namespace's NetworkPolicy lets workers reach it),
    its Pods waiting for that policy to be in force (policy_gate.py) when the node
    enforces it."""
    return {
        "PRAZIUM_EXECUTOR": "kubernetes",
        "PRAZIUM_JOB_NAMESPACE": job_ns,
        "PRAZIUM_WORKER_IMAGE": node().worker_image,
        "PRAZIUM_WORKER_IMAGE_PULL_POLICY": "Never",
        "PRAZIUM_WORKER_SERVICE_ACCOUNT": WORKER_SA,
        "PRAZIUM_WORKER_RUNTIME_CLASS": os.environ.get("PRAZIUM_TEST_WORKER_RUNTIME_CLASS", ""),
        "PRAZIUM_EGRESS_PROXY_LISTEN": os.environ.get("PRAZIUM_TEST_EGRESS_PROXY_LISTEN", ""),
        "PRAZIUM_EGRESS_PROXY_URL": os.environ.get("PRAZIUM_TEST_EGRESS_PROXY_URL", ""),
        # Pods wait for their NetworkPolicy when this stack's kube-router enforces it.
        "PRAZIUM_WORKER_POLICY_GATE": os.environ.get("PRAZIUM_TEST_WORKER_POLICY_GATE", "false"),
        **extra,
    }


def pod(namespace: str, name: str) -> dict[str, Any] | None:
    try:
        obj = client.CoreV1Api().read_namespaced_pod(name, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(client.ApiClient().sanitize_for_serialization(obj))


def started_events(namespace: str, pod_name: str) -> list[Any]:
    """The kubelet's Started events of a Pod (they outlive the Pod)."""
    return [
        e
        for e in client.CoreV1Api()
        .list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod_name}")
        .items
        if e.reason == "Started"
    ]


def set_unschedulable(value: bool) -> None:
    """Cordon (or uncordon) every node of the stack."""
    core = client.CoreV1Api()
    for item in core.list_node().items:
        if item.metadata.name in NODE_NAMES:
            core.patch_node(item.metadata.name, {"spec": {"unschedulable": value}})


def node_script(*args: str, timeout: float = 300) -> str:
    """node.sh with args (add, remove, crash); its output, failing the test if it fails."""
    proc = subprocess.run(
        [node().script, *args], capture_output=True, text=True, check=False, timeout=timeout
    )
    assert proc.returncode == 0, f"node.sh {' '.join(args)}: {proc.stderr[-3000:]}"
    return proc.stderr


def node_ready(name: str) -> bool:
    try:
        obj = client.CoreV1Api().read_node(name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    conditions = (obj.status.conditions if obj.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


TWO_NODES_SKIP = (
    "runs in make helm-e2e (needs two nodes), not in make test; by itself: "
    "PRAZIUM_NODES=2 scripts/test.sh tests/integration/test_two_nodes.py"
)


def stack_has_two_nodes() -> bool:
    """Whether the test stack was started with a second node (PRAZIUM_NODES=2)."""
    return os.environ.get("PRAZIUM_TEST_NODES") == "2"


@dataclass
class SecondNode:
    """The stack's second node, for one test; crash() kills it as a crashed machine dies."""

    name: str = SECOND_NODE
    crashed: bool = False

    def crash(self) -> None:
        node_script("crash")
        self.crashed = True


@contextmanager
def second_node() -> Iterator[SecondNode]:
    """The stack's second node (PRAZIUM_NODES=2), Ready, for the duration. Whatever a
    test did to it, the next test finds it as it was: a crashed one is removed and added
    afresh (its Node object with it, so its Pods are collected), a drained one
    uncordoned."""
    node()
    if not stack_has_two_nodes():
        pytest.fail(f"this test needs the stack's second node: {TWO_NODES_SKIP}")
    if not node_ready(SECOND_NODE):
        node_script("add")
    second = SecondNode()
    try:
        yield second
    finally:
        if second.crashed or not node_ready(SECOND_NODE):
            node_script("remove")
            node_script("add")
        else:
            client.CoreV1Api().patch_node(SECOND_NODE, {"spec": {"unschedulable": False}})


@dataclass
class PodRecorder:
    """Every Pod seen in a namespace while it runs (the Jobs' Pods are deleted with
    their Jobs once a task's result is read), as the last version seen."""

    namespace: str
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PodRecorder:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        core = client.CoreV1Api()
        serialize = client.ApiClient().sanitize_for_serialization
        while not self._stop.is_set():
            for item in core.list_namespaced_pod(self.namespace).items:
                self.seen[item.metadata.name] = dict(serialize(item))
            self._stop.wait(0.2)


def assert_restricted(pod_obj: dict[str, Any]) -> None:
    """The Pod runs as the worker uid, read-only root, no capabilities, no token."""
    spec = pod_obj["spec"]
    assert spec["nodeName"] in NODE_NAMES
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == WORKER_UID
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == WORKER_SA
    [container] = spec["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert not any(m["mountPath"].startswith("/var/run/secrets") for m in container["volumeMounts"])
