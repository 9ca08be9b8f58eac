"""A minimal `command` coder: any coding-agent CLI run on the task's files.

Registered as `command` in agents/registry.py (a later registration under that
name replaces it). The command runs through the shell with the task in environment
variables: PRAZIUM_TASK_ID, PRAZIUM_TASK_SLUG, PRAZIUM_TASK_DESCRIPTION,
PRAZIUM_TASK_INSTRUCTIONS, PRAZIUM_TASK_JSON (the whole task definition) and
PRAZIUM_TASK_ATTEMPT (1 on the first attempt, 2 when the operator re-runs a
task whose worker was lost, ...; set by the worker). A non-zero exit fails the
task.

The command is untrusted (the tenant's CLI, steered by model output), so it never
sees the platform's credentials (prazium_operator.sandbox): its environment is PATH,
HOME, LANG and the PRAZIUM_TASK_* variables only. In a worker Pod (kubernetes
executor) it runs in the task's worktree, and the tenant's own credentials (the Pod's
envFrom of its credentialsSecret) are passed on; locally it runs in a private copy
of the worktree's files (no .git) under a uid of its own, and what it leaves there
is copied back into the worktree before the worker commits.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import subprocess

from prazium_operator import sandbox
from prazium_operator.agents.base import PlanTask, SpecDocuments

log = logging.getLogger("prazium.agent")


class CommandCoderError(RuntimeError):
    pass


class CommandCoder:
    def __init__(self, command: str = "", **_: object) -> None:
        if not command:
            raise ValueError("the command coder needs agent.command")
        self.command = command

    def code(self, task: PlanTask, documents: SpecDocuments, worktree: pathlib.Path) -> None:
        task_env = {
            "PRAZIUM_TASK_ID": str(task["id"]),
            "PRAZIUM_TASK_SLUG": str(task.get("slug", "")),
            "PRAZIUM_TASK_DESCRIPTION": str(task.get("description", "")),
            "PRAZIUM_TASK_INSTRUCTIONS": str(task.get("instructions", "")),
            "PRAZIUM_TASK_JSON": json.dumps(task),
            "PRAZIUM_TASK_ATTEMPT": os.environ.get("PRAZIUM_TASK_ATTEMPT", "1"),
        }
        argv = ["/bin/sh", "-c", self.command]
        if sandbox.truthy(os.environ.get(sandbox.IN_POD_ENV)):
            home = pathlib.Path(os.environ.get("HOME") or "/tmp")
            with subprocess.Popen(
                argv,
                cwd=worktree,
                env=sandbox.command_env(task_env, home, os.environ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            ) as proc:
                output = sandbox.stream_lines(proc, _log_line).decode(errors="replace")
                code = proc.returncode
        else:
            code, output = _run_locally(argv, task_env, worktree)
        if code != 0:
            raise CommandCoderError(f"command exited with {code}: {output.strip()[-500:]}")


def _log_line(line: str) -> None:
    # The command's output (stdout and stderr, in order) becomes the attempt's log lines
    # as they come, one record each (so they carry the attempt's ids and any key shape
    # is masked); the last lines also say why it failed.
    log.info("%s", line, extra={"stream": "agent"})


def _run_locally(
    argv: list[str], task_env: dict[str, str], worktree: pathlib.Path
) -> tuple[int, str]:
    """In a sandbox: copy the worktree's files in, run, copy the result back."""
    identity = f"{worktree}/{task_env['PRAZIUM_TASK_ATTEMPT']}"
    box = sandbox.Sandbox.create(
        identity, allow_unsandboxed=sandbox.truthy(os.environ.get(sandbox.UNSANDBOXED_ENV))
    )
    try:
        sandbox.copy_tree(worktree, box.work, skip=(".git",))
        box.hand_over()
        env = sandbox.command_env(task_env, box.home, {})
        code, output, _ = sandbox.run_command(box, argv, env, on_line=_log_line)
        sandbox.clear_tree(worktree, keep_top=(".git",))
        sandbox.copy_tree(box.work, worktree, skip=(".git",))
        return code, output
    finally:
        box.remove()
