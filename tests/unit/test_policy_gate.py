"""The network policy gate's decision, with real sockets on loopback: a listening socket
is a destination the policy does not block yet (reachable), a closed port one it
rejects (refused), a listener whose accept queue is full one it drops (the connect
times out). Then the waiting process that holds a Pod's work behind it, and what the
executors make of a Pod it stopped."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kubernetes import client

from prazium_operator import go_signal, policy_gate
from prazium_operator.executor import kubernetes, sandboxing, verification
from prazium_operator.settings import Settings
from prazium_operator.worker import waiting
from prazium_operator.worker_contract import WorkerRequest, request_path

FAST = {"interval": 0.02, "timeout": 0.5}


@contextmanager
def _listening() -> Iterator[tuple[str, int]]:
    """A loopback listener that accepts every connection: reachable."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    server.settimeout(0.1)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                server.accept()[0].close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()
    finally:
        stop.set()
        thread.join(2)
        server.close()


def _closed_port() -> tuple[str, int]:
    """A loopback port nothing listens on: the connection is refused."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    address: tuple[str, int] = probe.getsockname()
    probe.close()
    return address


def test_a_refused_destination_means_the_policy_is_in_force_at_the_first_probe() -> None:
    target = _closed_port()
    assert policy_gate.reachable(target, 0.5) is False
    started = time.monotonic()
    verdict = policy_gate.check([target], limit=5, **FAST)
    assert verdict.enforced and verdict.probes == 1 and verdict.open_probes == 0
    assert time.monotonic() - started < 0.5  # a refusal is answered at once


def test_a_reachable_destination_is_probed_until_the_limit_and_not_enforced() -> None:
    with _listening() as target:
        assert policy_gate.reachable(target, 0.5) is True
        started = time.monotonic()
        said: list[str] = []
        verdict = policy_gate.check(
            [target], limit=0.4, on_open=lambda: said.append("open"), **FAST
        )
    took = time.monotonic() - started
    assert said == ["open"]  # once, at the first open probe
    assert not verdict.enforced
    assert verdict.probes == verdict.open_probes > 3, verdict
    assert 0.3 <= took < 2.0, took
    assert f"{target[0]}:{target[1]} still reachable" in verdict.reason


def test_the_gate_passes_once_the_destination_stops_answering() -> None:
    """The policy arriving while the gate waits: reachable first, then refused."""
    result: list[policy_gate.Verdict] = []
    with _listening() as target:
        thread = threading.Thread(
            target=lambda: result.append(policy_gate.check([target], limit=10, **FAST))
        )
        thread.start()
        time.sleep(0.3)
    # The listener is closed: the port now refuses, as a policy that rejects does.
    thread.join(10)
    assert result, "the check did not end"
    verdict = result[0]
    assert verdict.enforced, verdict
    assert verdict.open_probes >= 3 and verdict.probes == verdict.open_probes + 1, verdict
    assert 0.25 <= verdict.seconds < 5, verdict


def test_a_timed_out_connect_counts_as_enforced() -> None:
    """A policy that drops: the SYN goes unanswered (here: a listener whose accept queue
    is full, so the kernel drops further SYNs) and the connect times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    target = server.getsockname()
    queued = socket.create_connection(target, timeout=1)  # fills the queue of one
    try:
        started = time.monotonic()
        verdict = policy_gate.check([target], limit=5, interval=0.02, timeout=0.3)
        assert verdict.enforced and verdict.probes == 1, verdict
        assert 0.25 <= time.monotonic() - started < 2
    finally:
        queued.close()
        server.close()


def test_every_target_must_be_blocked() -> None:
    with _listening() as open_target:
        verdict = policy_gate.check([_closed_port(), open_target], limit=0.2, **FAST)
    assert not verdict.enforced and verdict.open_probes == verdict.probes


def test_no_target_is_not_enforced() -> None:
    verdict = policy_gate.check([], limit=5)
    assert not verdict.enforced and verdict.probes == 0
    assert "KUBERNETES_SERVICE_HOST" in verdict.reason


def test_the_apiserver_service_is_the_target_the_kubelet_gives() -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert policy_gate.service_target(env) == ("10.0.0.1", 443)
    env6 = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}
    assert policy_gate.service_target(env6) == ("fd00::1", 6443)
    assert policy_gate.service_target({}) is None
    assert policy_gate.service_target({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}) is None
    assert policy_gate.service_target({**env, "KUBERNETES_SERVICE_PORT": "https"}) is None


def test_the_gate_thread_checks_the_apiserver_service_of_its_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, port = _closed_port()
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(port))
    verdict = policy_gate.Gate(5).result()
    assert verdict.enforced and verdict.probes == 1
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert not policy_gate.Gate(5).result().enforced


def test_the_message_names_the_limit_and_no_address() -> None:
    message = policy_gate.not_enforced_message(20)
    assert message == "the Pod's network policy was not in force after 20 s; nothing ran in it"
    assert policy_gate.not_enforced_message(1.5).endswith("after 1.5 s; nothing ran in it")


# --- the waiting process (worker/waiting.py) ---------------------------------------------


def _env(target: tuple[str, int]) -> dict[str, str]:
    root = Path(__file__).resolve().parents[2]
    paths = [str(root / "operator"), str(root / "kit"), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in paths if p),
        "KUBERNETES_SERVICE_HOST": target[0],
        "KUBERNETES_SERVICE_PORT": str(target[1]),
    }


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _waiting(
    tmp_path: Path, target: tuple[str, int], gate: str
) -> subprocess.CompletedProcess[str]:
    go, out = tmp_path / "start.go", tmp_path / "out"
    go_signal.write(go)
    argv = [sys.executable, "-m", "prazium_operator.worker.waiting", "--go", str(go)]
    return subprocess.run(
        [*argv, "--policy-gate", gate, "--", "sh", "-c", f"echo ran > {out}"],
        env=_env(target),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_waiting_process_runs_its_command_once_the_policy_is_in_force(
    tmp_path: Path,
) -> None:
    proc = _waiting(tmp_path, _closed_port(), "5")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out").read_text() == "ran\n"
    [go] = [line for line in _lines(proc.stderr) if line["message"] == waiting.GO_LINE]
    assert go["policyProbes"] == 1 and go["policyOpenProbes"] == 0, go
    assert waiting.POLICY_WAIT_LINE not in proc.stderr


def test_the_waiting_process_runs_nothing_while_the_apiserver_is_reachable(
    tmp_path: Path,
) -> None:
    with _listening() as target:
        proc = _waiting(tmp_path, target, "0.5")
    assert proc.returncode == policy_gate.EXIT_NOT_ENFORCED == 75, proc.stderr
    assert not (tmp_path / "out").exists()
    messages = [x["message"] for x in _lines(proc.stderr)]
    assert messages == [waiting.POLICY_WAIT_LINE, waiting.NOT_ENFORCED_LINE], messages
    [line] = [x for x in _lines(proc.stderr) if x["message"] == waiting.NOT_ENFORCED_LINE]
    assert line["level"] == "WARNING"
    assert line["error"] == policy_gate.not_enforced_message(0.5)
    assert int(str(line["policyOpenProbes"])) > 1


def test_without_the_gate_nothing_is_probed(tmp_path: Path) -> None:
    """--policy-gate 0 (the setting off): the command runs with the apiserver reachable."""
    with _listening() as target:
        proc = _waiting(tmp_path, target, "0")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out").read_text() == "ran\n"
    assert "policyProbes" not in proc.stderr


def test_a_worker_stopped_by_the_gate_leaves_no_result_and_says_why(tmp_path: Path) -> None:
    """Exit 75, a warning line in the attempt's kept log, no result file: the operator
    counts the attempt lost and runs it again (never a task failure)."""
    result = tmp_path / "task-001-1.json"
    request = WorkerRequest(
        namespace="t1",
        project="shop",
        run="shop-1",
        task={"id": "task-001", "slug": "shell", "pathScope": ["app/**"]},
        documents={},
        repo_path=str(tmp_path / "repo.git"),
        worktree=str(tmp_path / "work"),
        branch="feat/task-001",
        base_commit="abc",
        attempt=1,
        result_path=str(result),
    )
    request_path(result).write_text(request.to_json())
    go = go_signal.task_go(result)
    go_signal.write(go, request_path(result))
    log = tmp_path / "task-001-1.log"
    argv = [sys.executable, "-m", "prazium_operator.worker.waiting", "--go", str(go)]
    with _listening() as target:
        proc = subprocess.run(
            [
                *argv,
                *("--request", str(request_path(result)), "--log", str(log)),
                *("--coder", "template", "--policy-gate", "0.3"),
            ],
            env=_env(target),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert proc.returncode == policy_gate.EXIT_NOT_ENFORCED, proc.stderr
    assert not result.exists() and not (tmp_path / "work").exists()
    kept = _lines(log.read_text())
    # The gate's first line comes from its own thread, before or after the imports'.
    assert sorted(str(x["message"]) for x in kept[:2]) == sorted(
        [waiting.WAITING_LINE, waiting.POLICY_WAIT_LINE]
    )
    assert [x["message"] for x in kept[2:]] == [waiting.NOT_ENFORCED_LINE]
    assert kept[2]["error"] == policy_gate.not_enforced_message(0.3)


# --- the executors' side -----------------------------------------------------------------


def _pod(exit_code: int | None) -> client.V1Pod:
    state = (
        client.V1ContainerState(terminated=client.V1ContainerStateTerminated(exit_code=exit_code))
        if exit_code is not None
        else client.V1ContainerState(running=client.V1ContainerStateRunning())
    )
    status = client.V1ContainerStatus(
        name="worker", image="i", image_id="", ready=False, restart_count=0, state=state
    )
    return client.V1Pod(status=client.V1PodStatus(container_statuses=[status]))


def test_a_worker_pod_stopped_by_the_gate_is_told_apart() -> None:
    assert kubernetes._stopped_by_policy_gate(_pod(75))
    for other in (0, 1, 2, 137, None):
        assert not kubernetes._stopped_by_policy_gate(_pod(other)), other
    assert not kubernetes._stopped_by_policy_gate(None)


def test_a_verification_stopped_by_the_gate_is_one_whose_tests_never_started(
    tmp_path: Path,
) -> None:
    output = tmp_path / "output.log"
    assert verification._stopped_by_policy_gate(75, output)
    output.write_text("")  # the script's redirection ran: the tests did, and exited 75
    assert not verification._stopped_by_policy_gate(75, output)
    assert not verification._stopped_by_policy_gate(1, tmp_path / "absent.log")


def test_the_setting_turns_the_gate_off_or_sets_its_limit() -> None:
    assert sandboxing.policy_gate_seconds(Settings()) == "20"
    assert sandboxing.policy_gate_seconds(Settings(worker_policy_gate_seconds=7.5)) == "7.5"
    assert sandboxing.policy_gate_seconds(Settings(worker_policy_gate=False)) == "0"
