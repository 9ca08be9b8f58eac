"""The local executor: workers as child processes of the operator.

Each worker runs in its own session (process group), so cancel can kill it
with everything it started, and an operator crash (SIGKILL) leaves it running:
the restarted operator re-adopts it through its pid file and the result file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from prazium_kit.models import ExecutorRef
from prazium_operator import sandbox
from prazium_operator.executor import forkserver
from prazium_operator.executor.base import WorkerState, WorkerStatus
from prazium_operator.settings import Settings
from prazium_operator.worker_contract import (
    WorkerRequest,
    log_path,
    pid_path,
    read_result,
    request_path,
)

log = logging.getLogger(__name__)
WORKER_MODULE = "prazium_operator.worker"
STOP_GRACE_SECONDS = 3.0


class LocalExecutor:
    kind = "local"

    def __init__(self, settings: Settings) -> None:
        self.max_workers = settings.max_workers
        sandbox.close_to_others(settings.data_dir)
        self._children: dict[int, asyncio.subprocess.Process] = {}
        self._adopted: set[int] = set()
        self._starting = 0
        # Workers forked from a pre-imported server (executor/forkserver.py) are not
        # our children: they are followed like adopted ones, by pid.
        self._forks = (
            forkserver.ForkServer(_worker_env(), settings.data_dir)
            if settings.fork_server
            else None
        )
        if self._forks is not None:
            self._forks.prestart()

    @property
    def active(self) -> int:
        return (
            self._starting
            + sum(1 for p in self._children.values() if p.returncode is None)
            + len(self._adopted)
        )

    def has_capacity(self) -> bool:
        return self.active < self.max_workers

    async def start(self, request: WorkerRequest, owner: dict[str, Any]) -> ExecutorRef:
        result = Path(request.result_path)
        result.parent.mkdir(parents=True, exist_ok=True)
        for stale in (result, pid_path(result)):
            stale.unlink(missing_ok=True)
        req_file = request_path(result)
        req_file.write_text(request.to_json(), encoding="utf-8")
        self._starting += 1
        if self._forks is not None:
            try:
                pid = await self._forks.spawn(req_file, log_path(result), _worker_env())
            except forkserver.NotReady:
                pass  # spawned below while the server imports
            except (RuntimeError, OSError, ValueError, TimeoutError) as exc:
                log.warning("fork server failed (%s); spawning the worker instead", exc)
            else:
                self._adopted.add(pid)
                self._starting -= 1
                log.info(
                    "forked worker pid %s for %s",
                    pid,
                    request.task_id,
                    extra={**request.log_fields(), "pid": pid},
                )
                return ExecutorRef(kind="local", pid=pid)
        try:
            with log_path(result).open("ab") as output:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    WORKER_MODULE,
                    "--request",
                    str(req_file),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=output,
                    stderr=output,
                    start_new_session=True,
                    env=_worker_env(),
                )
        finally:
            self._starting -= 1
        self._children[proc.pid] = proc
        log.info(
            "started worker pid %s for %s",
            proc.pid,
            request.task_id,
            extra={**request.log_fields(), "pid": proc.pid},
        )
        return ExecutorRef(kind="local", pid=proc.pid)

    async def state(self, ref: ExecutorRef, request: WorkerRequest) -> WorkerStatus:
        return WorkerStatus(self._state(ref, request))

    def _state(self, ref: ExecutorRef, request: WorkerRequest) -> WorkerState:
        result = Path(request.result_path)
        pid = ref.pid or _pid_from_file(result)
        child = self._children.get(pid) if pid else None
        if child is not None:
            if child.returncode is None:
                return WorkerState.RUNNING
            self._children.pop(child.pid, None)
        elif pid and _is_our_worker(pid, request_path(result)):
            self._adopted.add(pid)
            return WorkerState.RUNNING
        elif pid:
            self._adopted.discard(pid)
        return WorkerState.EXITED if read_result(result) is not None else WorkerState.LOST

    async def stop(self, ref: ExecutorRef, request: WorkerRequest) -> None:
        pid = ref.pid or _pid_from_file(Path(request.result_path))
        if not pid:
            return
        child = self._children.get(pid)
        if child is None and not _is_our_worker(pid, request_path(Path(request.result_path))):
            return
        log.info(
            "stopping worker pid %s of %s",
            pid,
            request.task_id,
            extra={**request.log_fields(), "pid": pid},
        )
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            if await _gone(pid, child, STOP_GRACE_SECONDS):
                break
        self._children.pop(pid, None)
        self._adopted.discard(pid)

    async def wait_for_exit(self, timeout: float) -> None:
        """Wake as soon as one of our workers exits."""
        # Workers that are not our children (forked, or adopted after a restart) are
        # awaited through a pidfd; ones already gone are dropped here (their task's
        # next state() reads the result), or they would end every wait at once.
        self._adopted = {pid for pid in self._adopted if _alive(pid)}
        waiters = [
            asyncio.ensure_future(p.wait()) for p in self._children.values() if p.returncode is None
        ] + [asyncio.ensure_future(forkserver.wait_exit(pid, timeout)) for pid in self._adopted]
        if not waiters:
            await asyncio.sleep(timeout)
            return
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def release(self, ref: ExecutorRef, request: WorkerRequest) -> None:
        """Nothing to free: an exited child leaves no object behind."""

    async def release_run(self, namespace: str, run: str) -> None:
        """Nothing to free: the Run's daemon stops its running children."""

    async def shutdown(self) -> None:
        # Leave workers running: a restarted operator re-adopts them (crash-only design).
        self._children.clear()
        if self._forks is not None:
            await self._forks.stop()


async def _gone(pid: int, child: asyncio.subprocess.Process | None, timeout: float) -> bool:
    """Wait until the worker's whole process group is gone (zombies awaiting init count as
    gone): a coder's CLI that outlives the worker must not keep writing to the worktree."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    if child is not None:
        try:
            await asyncio.wait_for(child.wait(), timeout)
        except TimeoutError:
            return False
    while loop.time() < deadline:
        if not _group_members(pid):
            return True
        await asyncio.sleep(0.05)
    return not _group_members(pid)


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group pgid."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        pass
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (
                (entry / "stat")
                .read_text(encoding="ascii", errors="replace")
                .rsplit(")", 1)[1]
                .split()
            )
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _is_our_worker(pid: int, req_file: Path) -> bool:
    """True when pid is alive and is the worker for this very request (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return _alive(pid) and (str(req_file).encode() in cmdline or forkserver.owns(pid, req_file))


def _pid_from_file(result: Path) -> int | None:
    data = read_result(pid_path(result))
    return int(data["pid"]) if data and data.get("pid") else None


def _worker_env() -> dict[str, str]:
    # The worker runs under the operator's interpreter, where the packages are installed,
    # with none of the platform's credentials (the coder it runs may be untrusted;
    # prazium_operator.sandbox).
    return sandbox.worker_env(os.environ)
