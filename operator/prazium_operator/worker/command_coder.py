"""A minimal `command` coder: any coding-agent CLI run in the task's worktree.

Registered only when the agents package has no `command` coder of its own. The
command runs through the shell in the worktree with the task in environment
variables: PRAZIUM_TASK_ID, PRAZIUM_TASK_SLUG, PRAZIUM_TASK_DESCRIPTION,
PRAZIUM_TASK_INSTRUCTIONS, PRAZIUM_TASK_JSON (the whole task definition) and
PRAZIUM_TASK_ATTEMPT (1 on the first attempt, 2 when the operator re-runs a
task whose worker was lost, ...; set by the worker). A non-zero exit fails the
task. Credentials reach it as environment (from a
Secret), never through the command line.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Any


class CommandCoderError(RuntimeError):
    pass


class CommandCoder:
    def __init__(self, command: str = "", **_: Any) -> None:
        if not command:
            raise ValueError("the command coder needs agent.command")
        self.command = command

    def code(self, task: dict[str, Any], documents: dict[str, str], worktree: pathlib.Path) -> None:
        env = dict(os.environ)
        env.update(
            PRAZIUM_TASK_ID=str(task["id"]),
            PRAZIUM_TASK_SLUG=str(task.get("slug", "")),
            PRAZIUM_TASK_DESCRIPTION=str(task.get("description", "")),
            PRAZIUM_TASK_INSTRUCTIONS=str(task.get("instructions", "")),
            PRAZIUM_TASK_JSON=json.dumps(task),
        )
        proc = subprocess.run(
            ["/bin/sh", "-c", self.command],
            cwd=worktree,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-500:]
            raise CommandCoderError(f"command exited with {proc.returncode}: {tail}")


def ensure_registered() -> None:
    from prazium_operator.agents import coder_names, register_coder

    if "command" not in coder_names():
        register_coder("command", CommandCoder)
