"""The local executor's fork server (operator/prazium_operator/executor/forkserver.py):
a fork runs the worker's main() in its own session, on the task's log file, with
only the environment it was handed, and is recognised by its marker."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from prazium_operator.executor import forkserver


def _owned_or_gone(pid: int, request: Path) -> bool:
    """Recognised while it runs (it may already have exited: a bad request is quick)."""
    return forkserver.owns(pid, request) or not Path(f"/proc/{pid}").exists()


def test_a_fork_runs_the_worker_alone_and_is_recognised(tmp_path: Path) -> None:
    request = tmp_path / "task-1.request.json"
    request.write_text("{}", encoding="utf-8")  # a bad request: the worker says so, exits 2
    log = tmp_path / "task-1.log"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PRAZIUM_LOG_FORMAT": "text"}

    async def scenario() -> tuple[int, bool, bool, str]:
        server = forkserver.ForkServer(env, tmp_path)
        try:
            await server.started()
            pid = await server.spawn(request, log, env)
            marker = forkserver.marker_path(request).read_text(encoding="utf-8")
            recognised = _owned_or_gone(pid, request)
            exited = await forkserver.wait_exit(pid, 60)
            return pid, recognised, exited, marker
        finally:
            await server.stop()

    pid, recognised, exited, marker = asyncio.run(scenario())
    assert pid > 0 and str(pid) in marker
    assert recognised and exited
    assert not forkserver.owns(pid, request)  # gone: never mistaken for a live worker
    text = log.read_text(encoding="utf-8")
    assert "bad request" in text and str(request) in text


def test_a_server_still_starting_hands_the_worker_back(tmp_path: Path) -> None:
    """Spawns do not wait for the server's imports: the executor spawns the plain way."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}

    async def scenario() -> None:
        server = forkserver.ForkServer(env, tmp_path)
        try:
            with pytest.raises(forkserver.NotReady):
                await server.spawn(tmp_path / "x.request.json", tmp_path / "x.log", env)
            await server.started()
        finally:
            await server.stop()

    asyncio.run(scenario())


def test_the_forked_environment_is_only_what_was_handed_over(tmp_path: Path) -> None:
    """The worker's settings come from the order's environment, not the server's."""
    request = tmp_path / "r.request.json"
    request.write_text("{}", encoding="utf-8")
    log = tmp_path / "r.log"
    server_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PRAZIUM_LOG_FORMAT": "text"}
    task_env = {**server_env, "PRAZIUM_LOG_FORMAT": "json"}

    async def scenario() -> None:
        server = forkserver.ForkServer(server_env, tmp_path)
        try:
            await server.started()
            pid = await server.spawn(request, log, task_env)
            await forkserver.wait_exit(pid, 60)
        finally:
            await server.stop()

    asyncio.run(scenario())
    # JSON lines: the fork read PRAZIUM_LOG_FORMAT from the task's environment.
    assert log.read_text(encoding="utf-8").lstrip().startswith("{")
