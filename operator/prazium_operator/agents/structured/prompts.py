"""Prompts: a short instruction plus the inputs as one JSON block.

The inputs travel as JSON (in a fenced ``json`` block at the end of the user
message) so nothing the user wrote can be confused with the instruction, and
the model sees exactly the data the operator holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from prazium_kit.plan import MAX_SLUG_LENGTH
from prazium_kit.types import JsonObject
from prazium_operator.agents.base import QUESTION_TYPES

SYSTEM = (
    "You are Prazium's planning and coding agent. You turn a short application"
    " description into a small, real, tested application in a git repository. Answer"
    " only with JSON matching the given schema. Be concrete and consistent."
)

CLARIFY = (
    "Ask the few clarifying questions (at most 8) whose answers change what gets built."
    f" Question ids are q1..qN in order; type is one of {', '.join(QUESTION_TYPES)};"
    " single_choice and multi_choice questions list at least two options, the other types"
    " an empty options list."
)

WRITE_SPEC = (
    "Write the four spec documents of the application as Markdown: SPEC (overview,"
    " features, decisions), ACCEPTANCE (testable acceptance criteria), ROUTES (every HTTP"
    " route: method, path, request, responses) and DATA (every entity and its fields)."
    " Respect the answers; apply the feedback if there is any."
)

DECOMPOSE = (
    "Decompose the spec into a build plan of tasks that together produce the application"
    " and its automated tests. Each task: id task-001, task-002, ... in order; slug a"
    f" lowercase DNS label of at most {MAX_SLUG_LENGTH} characters; description (one line);"
    " instructions (what to write, precisely); dependencies (ids of earlier tasks it builds"
    " on; no cycles); pathScope (repository-relative glob patterns of the files it may"
    " write: '*' within a segment, '**' any depth); expectedOutputs (files it must produce,"
    " inside its pathScope); testCommand (the argv, run from the repository root, of the"
    " tests the task writes or owns, such as one test module: the coding agent is done"
    " only when they pass; [] when the task has none). Tasks that may run in parallel must"
    " not share files."
    " mergeOrder lists every task id, each after its dependencies. verifyCommand is the"
    " argv, run from the repository root, that runs the application's tests. Include one"
    " task for the web interface the app serves itself at / (plain HTML, CSS and"
    " JavaScript, no CDN, no build step): a page per record type to list, create, edit"
    " and delete records, with the API's validation errors shown beside their fields."
)

CODE = (
    "Carry out the task: return the complete content of every file you create or change."
    " Paths are repository-relative, normalized, and must lie inside the task's pathScope;"
    " produce every expected output. Do not describe the changes, write them. Set"
    " executable only for scripts that must be run directly."
)


def user_message(instruction: str, inputs: Mapping[str, object]) -> str:
    return f"{instruction}\n\nInputs:\n```json\n{json.dumps(inputs, indent=1)}\n```\n"


def parse_inputs(message: str) -> JsonObject:
    """The inputs block of a user message built by :func:`user_message` (for stand-ins)."""
    block = message.rsplit("```json\n", 1)[1].rsplit("\n```", 1)[0]
    return dict(json.loads(block))
