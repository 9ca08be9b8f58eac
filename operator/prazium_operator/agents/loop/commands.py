"""The run tool's sandbox: the model's commands (and the task's tests) run with exactly
the `command` coder's restrictions, without the worker's credentials.

* Environment: the `command` coder's (prazium_operator/sandbox.py command_env): PATH, HOME,
  LANG and PRAZIUM_TASK_ID/ATTEMPT; in a worker Pod also what the Pod's environment
  holds besides PRAZIUM_* and GIT_*, minus the LLM API keys, which the loop removes
  from the worker's environment before the first command (credentials.py).
* Where: a private copy of the worktree's files (no .git), brought back to the
  worktree's state before every command (mirror.py copies only what changed), in a
  sandbox directory of the attempt: locally owned by a uid of its own when the worker
  is root (else refused unless PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS=true, as for the
  `command` coder); in a Pod, under the Pod's /tmp (the Pod is the sandbox).
* What comes back: the exit code and the output, bounded (its start and its end).
  HOME is emptied before every command. Changes a command makes to files are NOT
  copied back: the model changes sources only
  through write_file and edit_file, so nothing changes behind its back, and a test run
  leaves no caches, databases or build output in the commit (nor for the next
  command). The price per command is a scan of both trees and a copy of what changed
  (bench/bench_agent_loop.py measures it).
* Lifetime: each command runs in a session of its own; when it ends or times out, its
  process group (and, with a uid of its own, every process of that uid) is killed. A
  worker stopped with SIGTERM kills the running command first.
* Starting it: as the sandbox uid through util-linux's setpriv (real, effective and
  saved uid and gid set, no supplementary groups, no_new_privs), so the worker starts
  it with vfork; Popen's own user= would fork the whole worker, SDKs and all, which
  costs tens of milliseconds per command. Without setpriv, Popen's user= it is.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from prazium_operator import sandbox
from prazium_operator.agents.loop.mirror import Mirror

# What the model gets of one command's output: its start and its end.
RUN_OUTPUT_MAX_BYTES = 16 * 1024
# After a kill, how long to wait for the rest of the output (a grandchild holding the
# pipe in another session) before giving up on it.
DRAIN_SECONDS = 2.0
_READ_CHUNK = 65536
SandboxRefused = sandbox.SandboxRefused


@dataclass(frozen=True)
class CommandOutcome:
    exit_code: int | None  # None: killed at its timeout
    output: str
    total_bytes: int
    timed_out: bool
    seconds: float

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe(self) -> str:
        if self.timed_out:
            return f"timed out after {self.seconds:.1f} s"
        return f"exit {self.exit_code} in {self.seconds:.2f} s"


class _Bounded:
    """A stream's first and last bytes, and how many there were."""

    def __init__(self, cap: int) -> None:
        self.half = max(1, cap // 2)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]

    def text(self) -> str:
        omitted = self.total - len(self.head) - len(self.tail)
        middle = f"\n[... {omitted} bytes of output omitted ...]\n" if omitted > 0 else ""
        data = bytes(self.head).decode(errors="replace") + middle
        return data + bytes(self.tail).decode(errors="replace")


class CommandBox:
    """One attempt's sandbox for the run tool; open() before the first command."""

    def __init__(
        self,
        worktree: Path,
        identity: str,
        task_env: Mapping[str, str],
        *,
        output_cap: int = RUN_OUTPUT_MAX_BYTES,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.worktree = worktree
        self.identity = identity
        self.task_env = dict(task_env)
        self.output_cap = output_cap
        self.environ = os.environ if environ is None else environ
        self.in_pod = sandbox.truthy(self.environ.get(sandbox.IN_POD_ENV))
        self.box: sandbox.Sandbox | None = None
        self.mirror: Mirror | None = None
        self._running: subprocess.Popen[bytes] | None = None
        self._previous_term: Any = None
        self._setpriv = shutil.which("setpriv", path=sandbox.SANDBOX_PATH)
        self.copy_seconds = 0.0  # of the last command: the sandbox's own cost

    def open(self) -> None:
        allow = self.in_pod or sandbox.truthy(self.environ.get(sandbox.UNSANDBOXED_ENV))
        self.box = sandbox.Sandbox.create(self.identity, allow_unsandboxed=allow)
        (self.box.root / "bin").mkdir()
        python = shutil.which("python3", path=sandbox.SANDBOX_PATH)
        if python and not self.in_pod:  # "python" as in a Pod's image
            (self.box.root / "bin" / "python").symlink_to(python)
        self.box.hand_over()
        if self.box.uid is not None:
            # Only work/ and home/ are the sandbox's: it may not swap bin/ (its python)
            # or rename what the mirror keeps. The root stays closed to every other uid
            # (the sandbox enters it through its group).
            for path in (self.box.root / "bin", self.box.root / "bin" / "python"):
                if path.is_symlink() or path.exists():
                    os.lchown(path, 0, 0)
            os.chown(self.box.root, 0, self.box.uid)
            os.chmod(self.box.root, 0o750)
        self.mirror = Mirror(self.worktree, self.box.work, self.box.uid)
        if threading.current_thread() is threading.main_thread():
            self._previous_term = signal.signal(signal.SIGTERM, self._on_term)

    def close(self) -> None:
        if self._previous_term is not None:
            signal.signal(signal.SIGTERM, self._previous_term)
            self._previous_term = None
        if self.box is not None:
            self.box.end_processes(None)
            self.box.remove()
            self.box = None
        if self.mirror is not None:
            self.mirror.close()
            self.mirror = None

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        """Stopped while a command runs: the command goes first, then the worker."""
        self._kill_running()
        self.close()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def env(self) -> dict[str, str]:
        assert self.box is not None
        env = sandbox.command_env(self.task_env, self.box.home, self.environ)
        if not self.in_pod:
            env["PATH"] = f"{self.box.root / 'bin'}:{env['PATH']}"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env

    @staticmethod
    def _fresh_home(box: sandbox.Sandbox) -> None:
        """An empty HOME for every command: nothing an earlier one left there (a
        user site-packages, a shell profile) may change what the next one, or the
        task's tests at finish, do."""
        shutil.rmtree(box.home, ignore_errors=True)
        if box.home.is_symlink() or box.home.exists():
            box.home.unlink()
        box.home.mkdir(mode=0o700)
        if box.uid is not None:
            os.lchown(box.home, box.uid, box.uid)

    def run_shell(self, command: str, timeout: float) -> CommandOutcome:
        return self.run(["/bin/sh", "-c", command], timeout)

    def run(self, argv: list[str], timeout: float) -> CommandOutcome:
        """argv in a fresh copy of the worktree, as the sandbox's uid, bounded."""
        box, mirror = self.box, self.mirror
        assert box is not None and mirror is not None, "open() first"
        copying = time.monotonic()
        mirror.sync()
        self._fresh_home(box)
        self.copy_seconds = time.monotonic() - copying
        uid = box.uid
        command = sandbox.resolve_python(argv) if not self.in_pod else list(argv)
        drop: dict[str, Any] = {}
        if uid is not None and self._setpriv:
            ids = [f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
            command = [self._setpriv, *ids, "--", *command]
        elif uid is not None:
            drop = {"user": uid, "group": uid, "extra_groups": []}
        started = time.monotonic()
        proc = subprocess.Popen(
            command,
            cwd=box.work,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=0o077 if uid is not None else -1,
            **drop,
        )
        self._running = proc
        try:
            output, timed_out = self._collect(proc, timeout)
            seconds = time.monotonic() - started  # the command's own time, not the clean-up
        finally:
            self._kill_running()
            self._running = None
        return CommandOutcome(
            exit_code=None if timed_out else proc.returncode,
            output=output.text(),
            total_bytes=output.total,
            timed_out=timed_out,
            seconds=seconds,
        )

    def _collect(self, proc: subprocess.Popen[bytes], timeout: float) -> tuple[_Bounded, bool]:
        assert proc.stdout is not None
        output = _Bounded(self.output_cap)
        deadline = time.monotonic() + timeout
        timed_out = False
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    if timed_out:
                        break  # drained what came after the kill
                    timed_out = True
                    self._kill_running()
                    deadline = time.monotonic() + DRAIN_SECONDS
                    continue
                if not selector.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), _READ_CHUNK)
                if not chunk:
                    break
                output.add(chunk)
        proc.stdout.close()
        try:
            proc.wait(DRAIN_SECONDS if timed_out else max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True  # closed its output but kept running
            self._kill_running()
            proc.wait()
        return output, timed_out

    def _kill_running(self) -> None:
        proc = self._running
        if proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        if self.box is not None:
            self.box.end_processes(None)  # with a uid of its own: all of its processes
