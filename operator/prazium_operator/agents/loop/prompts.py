"""The loop's system prompt and first message, and which tests a task owns.

A task's tests are its plan's ``testCommand`` (an argv run from the repository root,
which the planner is asked for); a task without one (plans written before it existed,
planners that leave it out) owns the plan's ``verifyCommand``, run in the task's
worktree: the application's tests as far as they exist there, the task's own and its
dependencies'. With neither, finish is accepted without a test run.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from prazium_operator.agents.base import PlanTask, SpecDocuments
from prazium_operator.agents.structured.prompts import user_message

FILES_LISTED = 300

SYSTEM = (
    "You are Prazium's coding agent. You carry out one task of a build plan in a git"
    " worktree of the application's repository, with the tools given, and work like an"
    " engineer: look at the code the task builds on (list_files, read_file, search),"
    " write the task's files (write_file for new files or complete rewrites, edit_file for"
    " small changes), run the task's tests with the run tool, read their output, fix what"
    " fails, and call finish once they pass. Rules: write only inside the task's"
    " pathScope; produce every expected output; do only what the task asks. Commands run"
    " in a fresh copy of the repository and their changes to files are discarded. Several"
    " independent tool calls may go in one reply. When finish is refused because the"
    " tests fail, fix the code and call finish again."
)

NUDGE = (
    "Continue with tool calls: change files with write_file or edit_file, run the tests"
    " with run, and call finish when the task is done. Replying without a tool call again"
    " ends the attempt."
)

CUT_OFF = (
    "Your last reply was cut off at the output limit, so tool calls in it may be"
    " incomplete. Write large files in smaller steps: a first part with write_file, then"
    " edit_file to add to it."
)


def owned_tests(
    task: PlanTask, verify_command: Sequence[str] | None
) -> tuple[list[str] | None, str]:
    """The argv of the task's tests and where it comes from."""
    own = task.get("testCommand")
    if own and all(isinstance(part, str) and part for part in own):
        return list(own), "the task's testCommand"
    if verify_command:
        return list(verify_command), "the plan's verifyCommand"
    return None, "none"


def first_message(
    task: PlanTask,
    documents: SpecDocuments,
    tests: list[str] | None,
    files: Sequence[str],
) -> str:
    scope = ", ".join(task.get("pathScope") or [])
    outputs = ", ".join(task.get("expectedOutputs") or []) or "(none named)"
    if tests:
        testing = f"finish runs the task's tests first: {shlex.join(tests)}"
    else:
        testing = "the task owns no tests: finish is accepted as it is"
    listed = list(files[:FILES_LISTED])
    more = f" (and {len(files) - len(listed)} more)" if len(files) > len(listed) else ""
    instruction = (
        f"Carry out task {task.get('id')} ({task.get('slug')}): {task.get('description', '')}\n"
        f"You may write only: {scope}\n"
        f"Expected outputs: {outputs}\n"
        f"Tests: {testing}\n"
        f"The repository has {len(files)} files now{more}:\n" + "\n".join(listed) + "\n"
        "The task (with its instructions) and the spec documents follow as JSON."
    )
    inputs = {"task": task, "documents": documents, "testCommand": tests or []}
    return user_message(instruction, inputs)
