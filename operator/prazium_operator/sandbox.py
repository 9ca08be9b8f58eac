"""Running untrusted code (a `command` coder, the generated app's tests) without the
platform's credentials and away from other projects: a tenant writes the command and
steers the model that writes the tests, so either may try to read what is not its own.

Local executor (the operator's host): the code runs
  * with a scrubbed environment: PATH, HOME, LANG and the PRAZIUM_TASK_* contract only
    (no database DSN, kubeconfig, LLM key or anything else of the operator's);
  * in a private copy of its own files (a fresh 0700 directory under the system's temp
    dir), never in the repo volume: the data dir, other projects and the stack's state
    are never on its path;
  * when the operator is root: as a uid of its own, one per task attempt (so two
    sandboxes never share a uid), with no supplementary groups, and every process of
    that uid is killed before its files are copied back. Without root there is no
    other uid to drop to: `command` agents are refused unless
    PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS=true says this local stack is single-tenant
    (the code then runs as the operator's uid, environment still scrubbed).

Kubernetes executor: the Pod is the sandbox (its own uid, no token, only its project's
directories mounted); command_env still hands the coder no more than it needs.

A floor below the executors and the agents: the local executor (the worker's
environment), verification (the generated tests) and the `command` coder all call these
functions, and none of them is imported from here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

# Set by the kubernetes executor in worker Pods: the Pod itself is the sandbox.
IN_POD_ENV = "PRAZIUM_WORKER_IN_POD"
# Local, not root: allow `command` agents with a scrubbed environment only.
UNSANDBOXED_ENV = "PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS"
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"
SANDBOX_LANG = "C.UTF-8"
# Sandbox uids: far above any account's, one per task attempt (hash of its identity).
UID_BASE = 1_500_000_000
UID_RANGE = 100_000_000
# What the local worker keeps of the operator's environment: its own log settings, the
# data dir, the sandbox switch, and the built-in LLM coders' endpoint settings (those
# coders run inside the worker, trusted; untrusted code never sees them).
_WORKER_KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "HOME")
_WORKER_KEEP_PREFIXES = (
    "PRAZIUM_LOG_",
    "PRAZIUM_OPENAI_",
    "PRAZIUM_ANTHROPIC_",
    "OPENAI_",
    "ANTHROPIC_",
)
_WORKER_KEEP_NAMES = ("PRAZIUM_DATA_DIR", "PRAZIUM_TASK_LOG_MAX_BYTES", UNSANDBOXED_ENV)


class SandboxRefused(RuntimeError):
    """Untrusted code cannot be run safely here (and was not allowed to run unsafely)."""


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def worker_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The local worker's environment: the operator's, minus every platform credential
    (database DSN, kubeconfig, ...), by allow-list."""
    return {
        key: value
        for key, value in environ.items()
        if key in _WORKER_KEEP or key in _WORKER_KEEP_NAMES or key.startswith(_WORKER_KEEP_PREFIXES)
    }


def base_env(home: Path) -> dict[str, str]:
    """PATH, HOME and LANG: all the environment untrusted code starts from."""
    return {"PATH": SANDBOX_PATH, "HOME": str(home), "LANG": SANDBOX_LANG}


def command_env(
    task_env: Mapping[str, str], home: Path, environ: Mapping[str, str]
) -> dict[str, str]:
    """A `command` coder's environment: base_env and the PRAZIUM_TASK_* contract; in a
    worker Pod also the tenant's own credentials (the Pod's envFrom, all that is left
    there once PRAZIUM_* and git settings are taken out)."""
    env = base_env(home)
    if truthy(environ.get(IN_POD_ENV)):
        # The image's PATH (its python), the Pod's own variables and the tenant's keys.
        env.update(
            {
                key: value
                for key, value in environ.items()
                if not key.startswith(("PRAZIUM_", "GIT_")) and key != "HOME"
            }
        )
    env.update(task_env)
    return env


def is_root() -> bool:
    return os.geteuid() == 0


def sandbox_uid(identity: str) -> int:
    """A uid for one sandbox, from its identity (namespace/project/run/task/attempt)."""
    digest = int(hashlib.sha256(identity.encode()).hexdigest()[:12], 16)
    return UID_BASE + digest % UID_RANGE


@dataclass
class Sandbox:
    """A private directory (work/ for the files, home/ for HOME) and the uid to run as
    (None: the current uid, when not root)."""

    root: Path
    uid: int | None

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @classmethod
    def create(cls, identity: str, *, allow_unsandboxed: bool) -> Sandbox:
        uid: int | None = sandbox_uid(identity) if is_root() else None
        if uid is None and not allow_unsandboxed:
            raise SandboxRefused(
                "the local executor runs untrusted commands only as root (each under a"
                f" uid of its own); set {UNSANDBOXED_ENV}=true to run them as the"
                " operator's user on a single-tenant stack"
            )
        root = Path(tempfile.mkdtemp(prefix="prazium-sandbox-"))  # 0700
        (root / "work").mkdir()
        (root / "home").mkdir()
        return cls(root=root, uid=uid)

    def hand_over(self) -> None:
        """Give the directory to the sandbox uid (after the files are in)."""
        if self.uid is None:
            return
        for path in [self.root, *self.root.rglob("*")]:
            os.lchown(path, self.uid, self.uid)

    def end_processes(self, pgid: int | None) -> None:
        """Kill whatever the code left running: its process group and, with a uid of its
        own, every process of that uid (a daemon that left the group too)."""
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        if self.uid is not None:
            kill_uid(self.uid)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def close_to_others(data_dir: Path) -> None:
    """No access to the data dir for other users (sandbox uids among them): only the
    operator's uid and group, and ACL entries given on purpose, keep theirs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    mode = data_dir.stat().st_mode
    if mode & 0o007:
        os.chmod(data_dir, stat.S_IMODE(mode) & ~0o007)


def kill_uid(uid: int) -> None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            owner = entry.stat().st_uid
        except (FileNotFoundError, ProcessLookupError):
            continue
        if owner == uid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def copy_tree(source: Path, target: Path, *, skip: tuple[str, ...] = ()) -> None:
    """Copy regular files, directories and symlinks (as links, never followed) from source
    into target; anything else (a FIFO, a socket) is left out, and so are entries named
    in skip at any depth (".git": the worktree's own link, and any repository the code
    made, whose config the worker's git must never read)."""
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        if entry.name in skip:
            continue
        dest = target / entry.name
        mode = entry.stat(follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(entry.path), dest)
        elif stat.S_ISDIR(mode):
            dest.mkdir()
            copy_tree(Path(entry.path), dest, skip=skip)
        elif stat.S_ISREG(mode):
            with open(entry.path, "rb", opener=_no_follow) as src, open(dest, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(dest, 0o755 if mode & stat.S_IXUSR else 0o644)


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def clear_tree(target: Path, *, keep_top: tuple[str, ...] = ()) -> None:
    """Remove everything in target except the top-level names in keep_top."""
    for entry in os.scandir(target):
        if entry.name in keep_top:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def run_command(
    sandbox: Sandbox,
    argv: list[str],
    env: Mapping[str, str],
    timeout: float | None = None,
    *,
    own_session: bool = False,
    on_line: Callable[[str], None] | None = None,
) -> tuple[int, str, bool]:
    """Run argv in the sandbox's work dir as its uid: (exit code, output, timed out).

    own_session: in a session of its own (verification, a child of the operator);
    otherwise in the caller's process group (a worker's), so stopping the worker
    (killpg) stops the command with it. on_line (without a timeout): called with each
    output line as it comes, so the attempt's log can be followed while it runs."""
    # As the sandbox uid (when root): no supplementary groups.
    dropped = sandbox.uid is not None
    proc = subprocess.Popen(
        argv,
        cwd=sandbox.work,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=own_session,
        user=sandbox.uid,
        group=sandbox.uid,
        extra_groups=[] if dropped else None,
        umask=0o077 if dropped else -1,
    )
    group = proc.pid if own_session else None
    timed_out = False
    try:
        if on_line is not None and timeout is None:
            output = stream_lines(proc, on_line)
        else:
            output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        sandbox.end_processes(group)
        if group is None:
            proc.kill()
        output, _ = proc.communicate()
    finally:
        sandbox.end_processes(group)
    return proc.returncode, output.decode(errors="replace"), timed_out


def stream_lines(proc: subprocess.Popen[bytes], on_line: Callable[[str], None]) -> bytes:
    """All of proc's output, handing each line to on_line as it arrives."""
    assert proc.stdout is not None
    output = bytearray()
    for raw in proc.stdout:
        output += raw
        on_line(raw.decode(errors="replace").rstrip("\n"))
    proc.wait()
    return bytes(output)


def resolve_python(argv: list[str]) -> list[str]:
    """ "python" in a sandbox is the system's python3 (the operator's own interpreter may
    live where the sandbox uid cannot reach; the generated app needs only the standard
    library)."""
    if argv and argv[0] in {"python", "python3"}:
        found = shutil.which("python3", path=SANDBOX_PATH)
        return [found or "python3", *argv[1:]]
    return list(argv)
