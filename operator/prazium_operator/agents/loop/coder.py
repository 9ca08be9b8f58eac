"""The coding-agent loop as a Coder: what the `openai` and `anthropic` coders are.

A provider contributes a SessionFactory (its tool-calling conversation over its SDK)
and its AgentError subclass; everything else is shared. The worker binds an Attempt
(bind_attempt) before code(); code() leaves the attempt's Outcome on it, and raises
LoopStopped (message: why, and the tests' failing output) unless the task finished.
"""

from __future__ import annotations

import os
import pathlib
from typing import ClassVar

from prazium_operator.agents.base import AgentError, PlanTask, SpecDocuments
from prazium_operator.agents.loop import credentials, prompts
from prazium_operator.agents.loop.attempt import Attempt
from prazium_operator.agents.loop.commands import CommandBox, SandboxRefused
from prazium_operator.agents.loop.driver import Driver
from prazium_operator.agents.loop.model import SessionFactory
from prazium_operator.agents.loop.tools import TOOLS, Workspace
from prazium_operator.agents.loop.transcript import Transcript

ATTEMPT_ENV = "PRAZIUM_TASK_ATTEMPT"


class LoopStopped(AgentError):
    """The attempt ended without the task done; the message says why (and carries the
    end of the tests' failing output). The reason is in the Attempt's Outcome."""


class LoopCoder:
    error: ClassVar[type[AgentError]] = AgentError

    def __init__(self, open_session: SessionFactory) -> None:
        self.open_session = open_session
        self.attempt: Attempt | None = None

    def bind_attempt(self, attempt: Attempt) -> None:
        """The worker's limits, budget, stop file and usage callback for the next code()."""
        self.attempt = attempt

    def code(self, task: PlanTask, documents: SpecDocuments, worktree: pathlib.Path) -> None:
        attempt = self.attempt or Attempt()
        task_id = str(task.get("id", "?"))
        scope = [str(p) for p in task.get("pathScope") or []]
        if not scope:
            raise self.error(f"{task_id}: the task has no pathScope")
        tests, source = prompts.owned_tests(task, attempt.verify_command)
        workspace = Workspace(worktree, scope)
        number = os.environ.get(ATTEMPT_ENV, "1")
        box = CommandBox(
            workspace.root,
            f"{workspace.root}/{number}/agent",
            {"PRAZIUM_TASK_ID": task_id, ATTEMPT_ENV: number},
        )
        try:
            box.open()
        except SandboxRefused as exc:
            raise self.error(f"{task_id}: the agent cannot run commands here: {exc}") from None
        try:
            message = prompts.first_message(task, documents, tests, list(workspace.files()))
            session = self.open_session(prompts.SYSTEM, message, TOOLS)
            # The SDK client holds the key now: nothing the commands can reach does.
            credentials.drop_keys()
            credentials.make_undumpable()
            workspace.searcher.start()  # a fork per attempt, after the line above
            transcript = Transcript(task_id, attempt.limits.max_steps)
            transcript.started(session.provider, session.model, tests, source)
            try:
                outcome = Driver(
                    task=task,
                    session=session,
                    workspace=workspace,
                    box=box,
                    attempt=attempt,
                    tests=tests,
                    transcript=transcript,
                ).run()
            finally:
                session.close()
        finally:
            workspace.close()
            box.close()
        attempt.outcome = outcome
        if outcome.reason != "Finished":
            raise LoopStopped(outcome.message)
