"""Runs that ride out an outage of their dependencies (a short one must neither fail a
run for good nor lose its events): PostgreSQL stopped for 20 s mid-run, and the
control plane (etcd and kube-apiserver) stopped for 20 s mid-run.

The suite shares one PostgreSQL and one control plane: each test starts what it
stopped again in a finally block and waits for it to answer before it returns."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.build import (
    create,
    events,
    kubectl_apply,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.probes import database_answers
from tests.support.sandbox_python import python_line
from tests.support.services import ROOT, ServiceProcess, Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = ROOT / "examples"
OUTAGE_SECONDS = 20
TASK_EVENTS = ["TASK_QUEUED", "TASK_STARTED", "TASK_COMPLETED"]

# The template coder through the `command` coder, after a pause: every task is still
# mid-work when the outage begins, so workers meet it too.
_TEMPLATE_FROM_WORKTREE = (
    "import json, os, pathlib\n"
    "from prazium_operator.agents import get_coder\n"
    "docs = {p.name: p.read_text() for p in pathlib.Path('docs/spec').glob('*.md')}\n"
    "get_coder('template').code(json.loads(os.environ['PRAZIUM_TASK_JSON']), docs,"
    " pathlib.Path('.'))\n"
)
SLOW_TASKS = f"sleep 3; {python_line(_TEMPLATE_FROM_WORKTREE)}"


def _dev_dir() -> Path:
    dev = os.environ.get("PRAZIUM_DEV_DIR")
    if not dev:
        pytest.fail("PRAZIUM_DEV_DIR is not set: run `make test`")
    return Path(dev)


def _script(*args: str) -> None:
    result = subprocess.run(
        [str(ROOT / "scripts" / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _apiserver_ready() -> bool:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    port = os.environ.get("PRAZIUM_APISERVER_PORT", "6443")
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/readyz", timeout=2, context=context
        ) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop_control_plane() -> None:
    """SIGKILL to kube-apiserver and etcd: both crash (a graceful apiserver shutdown
    waits out its open watches)."""
    cluster = _dev_dir() / "cluster"
    for name in ("apiserver", "etcd"):
        pid = int((cluster / f"{name}.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda p=pid: _gone(p), 30, f"{name} to exit")


def _gone(pid: int) -> bool:
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def _slow_run(stack: Stack, namespace: str, operator: ServiceProcess, name: str) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)
    create(
        namespace,
        "runs",
        "Run",
        name,
        {
            "projectRef": {"name": "notes-gitops"},
            "parallelism": 2,
            "agent": {"coder": "command", "command": SLOW_TASKS},
        },
    )


def _assert_each_task_once_in_order(journal: list[dict], task_ids: list[str]) -> None:
    for task_id in task_ids:
        lifecycle = [
            e["type"]
            for e in journal
            if e["task"] == task_id and e["type"] in {*TASK_EVENTS, "TASK_FAILED"}
        ]
        assert lifecycle == TASK_EVENTS, (task_id, lifecycle)
        files = [
            e["payload"]["path"]
            for e in journal
            if e["task"] == task_id and e["type"] == "FILE_CREATED"
        ]
        assert files and len(files) == len(set(files)), (task_id, files)
    finals = [
        e["type"] for e in journal if e["type"] in {"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"}
    ]
    assert finals == ["RUN_COMPLETED"], finals


def _ride_out(
    stop: Callable[[], None], start: Callable[[], None], back: Callable[[], bool], what: str
) -> float:
    """Stop a dependency for OUTAGE_SECONDS, start it again whatever happens; the
    seconds it was down."""
    stopped_at = time.monotonic()
    try:
        stop()
        time.sleep(OUTAGE_SECONDS)
    finally:
        if not back():
            start()
        wait_for(back, 180, f"{what} back")
    return time.monotonic() - stopped_at


def test_run_succeeds_across_a_20s_postgres_outage_with_every_event_once(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    # Workers never touch the journal (they hold no DSN): the operator ingests their
    # event and result files, retrying through the outage, each event once by its key.
    operator = start_operator(stack, data_dir, [namespace], tmp_path / "logs")
    try:
        _slow_run(stack, namespace, operator, "notes-pg")
        wait_for(
            lambda: any(
                e["type"] == "TASK_STARTED"
                for e in events(stack.database_url, namespace, "notes-pg")
            ),
            60,
            "a worker to start",
            operator,
            interval=0.05,
        )
        down = _ride_out(
            lambda: _script("postgres.sh", "stop"),
            lambda: _script("postgres.sh", "start"),
            lambda: database_answers(stack.database_url),
            "PostgreSQL",
        )
        run = wait_run_done(namespace, "notes-pg", operator, timeout=240)
        journal = wait_final_event(stack.database_url, namespace, "notes-pg", operator, timeout=60)
    finally:
        operator.stop()
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    task_ids = [t["id"] for t in run["status"]["plan"]["tasks"]]
    _assert_each_task_once_in_order(journal, task_ids)
    log = operator.log_path.read_text(errors="replace")
    assert "journal write of" in log  # the operator met the outage and retried
    print(f"PostgreSQL down {down:.1f} s; run succeeded with {len(task_ids)} tasks")


def test_run_completes_across_a_20s_apiserver_outage(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    operator = start_operator(stack, data_dir, [namespace], tmp_path / "logs")
    try:
        _slow_run(stack, namespace, operator, "notes-api")
        wait_for(
            lambda: any(
                e["type"] == "TASK_STARTED"
                for e in events(stack.database_url, namespace, "notes-api")
            ),
            60,
            "a worker to start",
            operator,
            interval=0.05,
        )
        down = _ride_out(
            _stop_control_plane,
            lambda: _script("cluster.sh", "start"),
            _apiserver_ready,
            "the control plane",
        )
        assert operator.alive(), operator.log_tail()
        run = wait_run_done(namespace, "notes-api", operator, timeout=240)
        journal = wait_final_event(stack.database_url, namespace, "notes-api", operator, timeout=60)
    finally:
        operator.stop()
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    task_ids = [t["id"] for t in run["status"]["plan"]["tasks"]]
    _assert_each_task_once_in_order(journal, task_ids)
    print(f"control plane down {down:.1f} s; run succeeded with {len(task_ids)} tasks")
