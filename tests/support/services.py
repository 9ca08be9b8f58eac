"""Start Prazium's own processes (operator, API) against the test stack.

The control plane and PostgreSQL are started by scripts/test.sh (make test);
these helpers run the operator and the API as real child processes, so tests
can stop, SIGKILL and restart them like an operator of a cluster would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    """A child process in its own process group, with its output in a log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the whole group, SIGKILL what is left after timeout."""
        if not self.alive():
            return
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL the main process only, as a crash would; its children live on."""
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(5)


@dataclass(frozen=True)
class Stack:
    """Where the test control plane and database are (from scripts/test.sh)."""

    kubeconfig: str
    database_url: str
    kubectl: str

    def service_env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PRAZIUM_KUBECONFIG=self.kubeconfig,
            PRAZIUM_DATABASE_URL=self.database_url,
            PRAZIUM_DATA_DIR=str(data_dir),
        )
        env.update(extra)
        return env


def start_operator(
    stack: Stack, data_dir: Path, namespaces: list[str], log_dir: Path, **extra_env: str
) -> ServiceProcess:
    # /metrics off unless a test asks for a port: operators of parallel tests (and
    # stacks) would all want the default one.
    extra_env = {"PRAZIUM_OPERATOR_METRICS_PORT": "0", **extra_env}
    # The fork server (executor/forkserver.py) imports the worker and the template agent
    # at operator start, a few CPU-seconds that a test's one or two tasks would not win
    # back on a loaded machine: off unless a test turns it on (test_retention does), or
    # PRAZIUM_TEST_FORK_SERVER=true turns it on for every operator of the session (so
    # `make bench-scale` can measure forked workers, the production default).
    default_fork = os.environ.get("PRAZIUM_TEST_FORK_SERVER", "false")
    extra_env = {"PRAZIUM_FORK_SERVER": default_fork, **extra_env}
    env = stack.service_env(data_dir, PRAZIUM_NAMESPACES=json_list(namespaces), **extra_env)
    proc = ServiceProcess(
        "operator", [sys.executable, "-m", "prazium_operator"], env, log_dir / "operator.log"
    ).start()
    return proc


def start_api(
    stack: Stack, data_dir: Path, log_dir: Path, port: int | None = None, **extra_env: str
) -> tuple[ServiceProcess, str]:
    port = port or free_port()
    # Tests write CRs straight to the apiserver and read them through the API at once:
    # the watch-fed read cache (consistent only for writes through the API) is off
    # unless a test turns it on (PRAZIUM_READ_CACHE="true"), as the read-cache tests do.
    extra_env = {"PRAZIUM_READ_CACHE": "false", **extra_env}
    env = stack.service_env(data_dir, PRAZIUM_PORT=str(port), **extra_env)
    proc = ServiceProcess(
        "api", [sys.executable, "-m", "prazium_api"], env, log_dir / f"api-{port}.log"
    ).start()
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(base + "/health"), 30, f"API on port {port}", proc)
    return proc, base


def json_list(items: list[str]) -> str:
    import json

    return json.dumps(items)


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def _proc_stat(pid: str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def live_processes() -> dict[int, list[str]]:
    """pid -> /proc stat fields (after the name) of every process that is not a zombie."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(entry)
            if fields is not None and fields[0] != "Z":
                out[int(entry)] = fields
    return out


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group; init reaps zombies when it can."""
    return [pid for pid, fields in live_processes().items() if int(fields[2]) == pgid]


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def processes_naming(path: Path) -> list[int]:
    """Live processes (not this one) whose command line contains path."""
    needle = str(path).encode()
    return [pid for pid in live_processes() if pid != os.getpid() and needle in cmdline(pid)]


def kill_workers(data_dir: Path, timeout: float = 10.0) -> list[int]:
    """SIGKILL the process group of every process whose command line names data_dir.

    Local workers run in their own session on purpose (they survive an operator crash
    and are re-adopted), so stopping a test's operator leaves them running; their
    command line holds the request file under data_dir. Returns the groups killed.
    """
    own = os.getpgrp()
    groups = set()
    for pid in processes_naming(data_dir):
        try:
            pgid = os.getpgid(pid)
        except ProcessLookupError:
            continue
        groups.add(pgid)
        with contextlib.suppress(ProcessLookupError):
            if pgid == own:
                os.kill(pid, signal.SIGKILL)  # never our own group
            else:
                os.killpg(pgid, signal.SIGKILL)
    wait_for(
        lambda: (
            not any(group_members(g) for g in groups - {own}) and not processes_naming(data_dir)
        ),
        timeout,
        f"worker processes under {data_dir} to exit",
        interval=0.05,
    )
    return sorted(groups)


def wait_for(
    predicate: Any,
    timeout: float,
    what: str,
    process: ServiceProcess | None = None,
    interval: float = 0.2,
) -> Any:
    """Poll predicate until it returns something truthy; fail with context on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if process is not None and not process.alive():
            raise AssertionError(
                f"{process.name} exited while waiting for {what}:\n{process.log_tail()}"
            )
        if time.monotonic() > deadline:
            tail = f"\n{process.name} log:\n{process.log_tail()}" if process else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")
        time.sleep(interval)
