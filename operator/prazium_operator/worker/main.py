"""`python -m prazium_operator.worker --request FILE`: carry out one task attempt.

Contract (see prazium_operator.worker_contract): reads a WorkerRequest, appends TASK_STARTED and one
FILE_CREATED / FILE_MODIFIED per path to its event file (the operator ingests
them into the journal: the worker has no database credentials), commits the task's work on
its branch, writes the result JSON (status, filesCreated, filesModified,
commitSha or error) and exits 0 (succeeded), 1 (task failed) or 2 (bad request).

Re-running an attempt is safe: uncommitted leftovers are discarded, and a commit
is made only when the branch tip is not already the task's result.

The worker exports PRAZIUM_TASK_ATTEMPT (1, 2, ...: the operator's attempt
number for this task) to its own environment, so every process a coder starts
(the `command` coder's CLI, for one) can tell a first run from a re-run.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time
from pathlib import Path

from prazium_kit import ids, journal, logs
from prazium_kit.plan import path_in_scope
from prazium_kit.timefmt import utc_now
from prazium_kit.types import Obj
from prazium_operator import recorder
from prazium_operator.agents import get_coder, plan_task
from prazium_operator.gitrepo import (
    GitError,
    git,
    identity_env,
    parse_name_status,
    remove_worktree,
)
from prazium_operator.settings import get_settings
from prazium_operator.worker import agent_attempt, logcapture
from prazium_operator.worker_contract import (
    EXIT_BAD_REQUEST,
    EXIT_SUCCEEDED,
    EXIT_TASK_FAILED,
    WorkerRequest,
    WorkerResult,
    log_path,
    pid_path,
    write_json_atomically,
)

log = logging.getLogger("prazium.worker")
ATTEMPT_ENV = "PRAZIUM_TASK_ATTEMPT"


class TaskFailure(Exception):
    """The task cannot succeed; the message says why and is shown to the user."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prazium-worker", description=__doc__)
    parser.add_argument("--request", required=True, type=Path, help="WorkerRequest JSON file")
    args = parser.parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)
    try:
        request = WorkerRequest.from_json(args.request.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError) as exc:
        log.error("bad request %s: %s", args.request, exc)
        return EXIT_BAD_REQUEST
    # From here every line of the attempt (and of the processes it starts) goes to
    # the attempt's kept log on the volume and to stdout (logcapture.py).
    capture = logcapture.start(log_path(Path(request.result_path)), settings.task_log_max_bytes)
    try:
        return run(request)
    finally:
        capture.close()


def run(request: WorkerRequest) -> int:
    result_path = Path(request.result_path)
    write_json_atomically(pid_path(result_path), {"pid": os.getpid()})
    os.environ[ATTEMPT_ENV] = str(request.attempt)  # this process carries one attempt only
    started = time.monotonic()
    started_at = utc_now()
    task_key = request.task_id
    # The worker holds no database credentials (it runs beside untrusted code): its events
    # go to a file beside its result, which the operator checks and ingests.
    events = recorder.AttemptJournal(recorder.events_path(result_path))
    # Every line of this attempt names it (prazium_kit.logs).
    logs.bind(**request.log_fields())
    log.info("task %s attempt %s started (coder %s)", task_key, request.attempt, request.coder)
    events.add(
        [
            recorder.entry(
                namespace=request.namespace,
                project=request.project,
                run=request.run,
                task=task_key,
                event_type=journal.TASK_STARTED,
                extra=request.attempt,
                payload={
                    "taskId": ids.task_id(task_key),
                    "slug": request.task.get("slug"),
                    "attempt": request.attempt,
                    "branch": request.branch,
                },
            )
        ]
    )
    result = WorkerResult(attempt=request.attempt, startedAt=started_at)
    timings: dict[str, float] = {}
    agent = agent_attempt.AgentAttempt(request, events)
    try:
        commit, created, modified = execute(request, timings, agent)
    except TaskFailure as exc:
        result.status, result.error = "failed", str(exc)
    except Exception as exc:  # an agent or git crash is a task failure, reported as such
        stopped = agent_attempt.stopped_message(exc)
        if stopped is None:
            log.exception("task %s failed", task_key)
        result.status, result.error = "failed", stopped or f"{type(exc).__name__}: {exc}"
    else:
        events.add(_file_events(request, created, modified))
        result.status, result.commit_sha = "succeeded", commit
        result.files_created, result.files_modified = created, modified
    agent.report(result)  # a coding-agent loop's usage, stop reason and steps
    result.completed_at = utc_now()
    result.duration_seconds = round(time.monotonic() - started, 3)
    log.log(
        logging.INFO if result.status == "succeeded" else logging.WARNING,
        "task %s attempt %s %s",
        task_key,
        request.attempt,
        result.status,
        extra={
            "status": result.status,
            "durationSeconds": result.duration_seconds,
            # What the attempt cost besides its coder (bench/bench_build.py reads these).
            "codeSeconds": round(timings.get("code", 0.0), 3),
            "cpuSeconds": round(_cpu_seconds(), 3),
            **({"commit": result.commit_sha} if result.commit_sha else {"error": result.error}),
        },
    )
    write_json_atomically(result_path, events.into(result.to_file()))
    return EXIT_SUCCEEDED if result.status == "succeeded" else EXIT_TASK_FAILED


def execute(
    request: WorkerRequest,
    timings: dict[str, float] | None = None,
    agent: agent_attempt.AgentAttempt | None = None,
) -> tuple[str, list[str], list[str]]:
    repo = Path(request.repo_path)
    worktree = Path(request.worktree)
    tip = prepare_worktree(repo, worktree, request.branch, request.base_commit)

    coder = get_coder(request.coder, **request.coder_options)
    if agent is not None:
        agent.bind(coder)
    coding = time.monotonic()
    coder.code(plan_task(request.task), dict(request.documents), worktree)
    if timings is not None:
        timings["code"] = time.monotonic() - coding

    git("add", "--all", cwd=worktree)
    scope = list(request.task["pathScope"])
    # One diff of the index against the base: the paths the task touched (for the scope
    # check) and, as the commit's tree is this index, its created and modified files.
    status = git(
        "diff", "--cached", "--name-status", "--no-renames", request.base_commit, cwd=worktree
    ).stdout
    touched = [path for _, _, path in (line.partition("\t") for line in status.splitlines())]
    outside = sorted(path for path in touched if path and not path_in_scope(path, scope))
    if outside:
        git("reset", "--hard", "--quiet", tip, cwd=worktree)
        raise TaskFailure(
            f"{request.task_id} changed paths outside its pathScope {scope}: {', '.join(outside)}"
        )
    created, modified = parse_name_status(status)
    if tip == request.base_commit:
        pending = any(touched)
    else:
        pending = bool(
            git("diff", "--cached", "--quiet", tip, cwd=worktree, check=False).returncode
        )
    if not pending:
        return tip, created, modified  # the branch tip is already this task's result (re-run)
    author = identity_env("Prazium", f"{request.coder}@prazium.io")
    message = (
        f"{request.task_id} {request.task.get('slug', '')}: "
        f"{request.task.get('description', '')}".strip()
    )
    git("commit", "--quiet", "--no-verify", "-m", message, cwd=worktree, env=author)
    head = git("rev-parse", "HEAD", cwd=worktree).stdout.strip()
    return head, created, modified


def prepare_worktree(repo: Path, worktree: Path, branch: str, base: str) -> str:
    """Check out branch (created at base if new) in worktree, clean; return its tip."""
    clear_stale_locks(repo, worktree, branch)
    valid = (worktree / ".git").exists() and git(
        "rev-parse", "--abbrev-ref", "HEAD", cwd=worktree, check=False
    ).stdout.strip() == branch
    if not valid:
        if worktree.exists():
            remove_worktree(repo, worktree)
        worktree.parent.mkdir(parents=True, exist_ok=True)
        # A first attempt (the usual case): a new branch at base in a new directory,
        # checked out just now, so there is nothing to discard and base is its tip. One
        # git command instead of eight: git processes are most of a task's own cost.
        if (
            git(
                "worktree", "add", "-b", branch, str(worktree), base, cwd=repo, check=False
            ).returncode
            == 0
        ):
            return base
        # The branch exists (a re-run: git refuses before it creates anything), or a
        # stale registration of the path is in the way (the branch may have been made
        # by then): the long way, which copes with both.
        remove_worktree(repo, worktree)
        exists = (
            git(
                "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=repo, check=False
            ).returncode
            == 0
        )
        if exists:
            git("worktree", "add", "--force", str(worktree), branch, cwd=repo)
        else:
            git("worktree", "add", "-b", branch, str(worktree), base, cwd=repo)
    # Leftovers of an attempt that died before committing are discarded.
    git("reset", "--hard", "--quiet", "HEAD", cwd=worktree)
    git("clean", "-fdxq", cwd=worktree)
    tip = git("rev-parse", "HEAD", cwd=worktree).stdout.strip()
    if git("merge-base", "--is-ancestor", base, tip, cwd=worktree, check=False).returncode:
        raise GitError(f"branch {branch} ({tip}) does not contain its base {base}")
    return tip


def clear_stale_locks(repo: Path, worktree: Path, branch: str) -> None:
    """Remove git lock files a previous attempt of this task left when it was killed in
    the middle of a git command (SIGKILL, OOM, a lost node).

    Only this task's worker uses its worktree and branch, and the operator starts attempt
    N + 1 only once attempt N is gone (WorkerState.LOST), so such a lock is stale; left in
    place it would fail every re-run ("Unable to create .../index.lock: File exists").
    """
    locks = [repo / "refs" / "heads" / f"{branch}.lock"]
    dotgit = worktree / ".git"
    if dotgit.is_file():
        text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        if text.startswith("gitdir:"):
            admin = worktree / text.split(":", 1)[1].strip()  # absolute, or relative to it
            locks += [admin / "index.lock", admin / "HEAD.lock"]
    for lock in locks:
        if lock.exists():
            log.warning("removing stale lock %s left by an earlier attempt", lock)
            lock.unlink(missing_ok=True)


def _cpu_seconds() -> float:
    """CPU seconds of this process and the processes it waited for (git, a coder's CLI).
    A forked worker (executor/forkserver.py) starts from zero: the server's imports are
    not in it; a spawned one's include its interpreter start and imports."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _file_events(request: WorkerRequest, created: list[str], modified: list[str]) -> list[Obj]:
    """One event per path, deduplicated per (run, task, type, path): a re-run adds none."""
    worktree = Path(request.worktree)
    entries: list[Obj] = []
    for event_type, paths in ((journal.FILE_CREATED, created), (journal.FILE_MODIFIED, modified)):
        for path in paths:
            file = worktree / path
            # lstat: a symlink the code made is sized as a link, never followed.
            size = file.lstat().st_size if file.is_symlink() or file.exists() else 0
            entries.append(
                recorder.entry(
                    namespace=request.namespace,
                    project=request.project,
                    run=request.run,
                    task=request.task_id,
                    event_type=event_type,
                    extra=path,
                    payload={"taskId": ids.task_id(request.task_id), "path": path, "size": size},
                )
            )
    return entries


if __name__ == "__main__":
    raise SystemExit(main())
