"""A fork server for local workers: import the worker once, fork it per task.

A fresh `python -m prazium_operator.worker` pays for an interpreter and its imports
(about half a CPU-second) on every task. The fork server is one long-lived child of
the operator that imported the worker, the template agent and their dependencies
once; for each task it forks, and the fork runs the worker's main() at once.

What a forked worker gets, and what it does not:
* the environment the local executor hands over for that task, and nothing else:
  os.environ is cleared and refilled in the child before the worker runs (the fork
  server itself is started with the same scrubbed environment, so the operator's
  secrets are in neither);
* its own session (process group), stdout and stderr on the task's log file, stdin
  on /dev/null, default signal handlers: as a spawned worker;
* optionally another uid/gid (when the executor runs workers unprivileged), set
  before the worker runs.

A restarted operator must recognise a still-running worker (pids get reused): a
spawned worker carries its request path on its command line, a forked one has the
fork server's. So the server writes a marker beside each fork's request (`<request>.forked`:
its pid and its start time from /proc) before it answers, and `owns()` checks both.

Protocol on the server's stdin/stdout: one JSON line per request
({"request", "log", "env", "uid"?, "gid"?}) answered by one JSON line ({"pid"} or
{"error"}). When the operator goes away (stdin closes) the server exits; its
workers, in their own sessions, carry on, as spawned ones do.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
MARKER_SUFFIX = ".forked"
# Imported once in the server so that a fork starts with them loaded.
PRELOAD = (
    "prazium_operator.worker.main",
    "prazium_operator.agents.registry",
    "prazium_appgen",
    "prazium_operator.agents.command",
)


def marker_path(request_file: Path) -> Path:
    return request_file.with_name(request_file.name + MARKER_SUFFIX)


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/pid/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = fields.rsplit(")", 1)[1].split()
    return None if rest[0] == "Z" else rest[19]


def owns(pid: int, request_file: Path) -> bool:
    """True when pid is alive and is the forked worker of this very request."""
    try:
        marker = json.loads(marker_path(request_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("pid") == pid and _start_time(pid) == marker.get("start")


# -- the server process --------------------------------------------------------


def _child(order: dict[str, Any]) -> None:
    """In the fork: become the worker for order, then exit with its code."""
    code = 70  # EX_SOFTWARE, if anything below fails before the worker ran
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        out = os.open(order["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(devnull)
        os.close(out)
        if order.get("gid") is not None:
            os.setgroups([])
            os.setgid(int(order["gid"]))
        if order.get("uid") is not None:
            os.setuid(int(order["uid"]))
        # Only what the executor handed over: none of the server's (or operator's) own.
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in order["env"].items()})
        request = Path(order["request"])
        sys.argv = ["prazium-worker", "--request", str(request)]

        from prazium_operator.settings import get_settings
        from prazium_operator.worker.main import main

        get_settings.cache_clear()  # settings come from this task's environment
        code = main(["--request", str(request)])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _reap() -> None:
    """Collect exited forks (so their CPU time counts as the server's children's)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _answer(out: Any, line: bytes) -> None:
    """Carry out one order: fork, write the marker, answer the pid (or the error)."""
    try:
        order = json.loads(line)
        pid = os.fork()
    except (ValueError, OSError) as exc:
        out.write(json.dumps({"error": f"{type(exc).__name__}: {exc}"}) + "\n")
        out.flush()
        return
    if pid == 0:
        _child(order)
    # Written before answering, so the operator never sees the pid without it.
    marker = {"pid": pid, "start": _start_time(pid)}
    try:
        marker_path(Path(order["request"])).write_text(json.dumps(marker), encoding="utf-8")
    except OSError as exc:
        out.write(json.dumps({"error": f"marker: {exc}"}) + "\n")
    else:
        out.write(json.dumps({"pid": pid}) + "\n")
    out.flush()


def serve() -> None:
    """The server's loop: read orders on stdin, fork, answer the pid on stdout; reap
    exited forks at least every second."""
    import importlib
    import select

    for module in PRELOAD:
        importlib.import_module(module)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    pending = b""
    while True:
        readable, _, _ = select.select([0], [], [], 1.0)
        _reap()
        if not readable:
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            return  # the operator went away; the forks carry on in their sessions
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                _answer(out, line)


# -- the operator's side -------------------------------------------------------


class NotReady(RuntimeError):
    """The server is still importing (or restarting): spawn this worker the plain way."""


class ForkServer:
    """The operator's handle on its fork server: started on first use, restarted
    when it died; one order at a time."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.env, self.data_dir = env, data_dir
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._warming: asyncio.Task[None] | None = None

    def prestart(self) -> None:
        """Start the server in the background now (its imports take a while), when
        called inside a running event loop; otherwise the first spawn starts it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._warming = loop.create_task(self._warm())

    async def started(self) -> None:
        """Wait until the server is up (started now if it is not)."""
        async with self._lock:
            await self._ensure()

    async def _warm(self) -> None:
        try:
            async with self._lock:
                await self._ensure()
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning("fork server did not start: %s", exc)

    async def _ensure(self) -> asyncio.subprocess.Process:
        if self._proc is not None and self._proc.returncode is None:
            return self._proc
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "prazium_operator.executor.forkserver",
            # Not read: names the repo volume on the command line, which every fork
            # inherits, so `ps` (and test cleanup) can tell whose workers these are.
            "--data-dir",
            str(self.data_dir),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            env=self.env,
            start_new_session=True,
        )
        assert proc.stdout is not None
        ready = json.loads(await asyncio.wait_for(proc.stdout.readline(), 60))
        log.info("fork server started (pid %s)", ready.get("ready"))
        self._proc = proc
        return proc

    async def spawn(
        self,
        request_file: Path,
        log_file: Path,
        env: dict[str, str],
        uid: int | None = None,
        gid: int | None = None,
    ) -> int:
        """Fork a worker for request_file; its pid. RuntimeError when the server cannot."""
        order: dict[str, Any] = {"request": str(request_file), "log": str(log_file), "env": env}
        if uid is not None:
            order["uid"] = uid
        if gid is not None:
            order["gid"] = gid
        if self._proc is None or self._proc.returncode is not None:
            # Not up (yet, or any more): start it in the background and let this
            # worker be spawned the plain way, rather than wait for the imports.
            if self._warming is None or self._warming.done():
                self.prestart()
            raise NotReady("the fork server is starting")
        async with self._lock:
            marker_path(request_file).unlink(missing_ok=True)
            proc = await self._ensure()
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write((json.dumps(order) + "\n").encode())
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
        if not line:
            raise RuntimeError("the fork server exited")
        answer = json.loads(line)
        if "pid" not in answer:
            raise RuntimeError(f"the fork server could not fork: {answer.get('error')}")
        return int(answer["pid"])

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def wait_exit(pid: int, timeout: float) -> bool:
    """Wait (at most timeout) for a process that is not our child to exit; True if it did."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except OSError:  # no pidfd (an old kernel): poll
        await asyncio.sleep(timeout)
        return False
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[bool] = loop.create_future()

    def exited() -> None:
        if not gone.done():
            gone.set_result(True)

    loop.add_reader(fd, exited)
    try:
        await asyncio.wait_for(gone, timeout)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(fd)
        os.close(fd)


if __name__ == "__main__":
    serve()
