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

import collections
import json
import logging
import os
import pathlib
import subprocess

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
        env = dict(os.environ)
        env.update(
            PRAZIUM_TASK_ID=str(task["id"]),
            PRAZIUM_TASK_SLUG=str(task.get("slug", "")),
            PRAZIUM_TASK_DESCRIPTION=str(task.get("description", "")),
            PRAZIUM_TASK_INSTRUCTIONS=str(task.get("instructions", "")),
            PRAZIUM_TASK_JSON=json.dumps(task),
        )
        # Its output (stdout and stderr, in order) becomes the attempt's log lines, one
        # record each (so they carry the attempt's ids and any key shape is masked);
        # the last lines also say why it failed.
        recent: collections.deque[str] = collections.deque(maxlen=20)
        with subprocess.Popen(
            ["/bin/sh", "-c", self.command],
            cwd=worktree,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                log.info("%s", line, extra={"stream": "agent"})
                recent.append(line)
            returncode = proc.wait()
        if returncode != 0:
            tail = "\n".join(recent).strip()[-500:]
            raise CommandCoderError(f"command exited with {returncode}: {tail}")


def ensure_registered() -> None:
    from prazium_operator.agents import coder_names, register_coder

    if "command" not in coder_names():
        register_coder("command", CommandCoder)
