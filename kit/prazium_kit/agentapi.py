"""The two roles every agent plays, as structural types, and the shapes they exchange.

A *planner* asks clarifying questions, writes the four spec documents and
decomposes them into a plan; a *coder* carries out one task of that plan inside a
git worktree. Implementations are chosen by name per project/run (the operator's
agent registry); the operator and the worker only ever talk to these protocols.
They live in the kit so that an agent shipped as its own package (the template
agent, prazium_appgen) implements them without importing the operator.

Data crosses these boundaries as plain JSON-compatible dicts because it is stored
verbatim in custom-resource status and journal events; the TypedDicts below name
their shapes (the pydantic models in :mod:`prazium_kit.models` parse them once
they reach the status).
"""

from __future__ import annotations

import pathlib
import typing
from collections.abc import Mapping
from typing import Literal, NotRequired, Protocol, runtime_checkable

from pydantic import ConfigDict, TypeAdapter, with_config
from typing_extensions import TypedDict  # pydantic validates only this TypedDict on 3.11


class AgentError(RuntimeError):
    """An agent could not do what was asked: its endpoint failed or answered something
    unusable. The message is safe to show (no credentials) and names the cause; the
    operator reports it in status instead of retrying blindly."""


QuestionType = Literal["single_choice", "multi_choice", "boolean", "text"]
"""A clarifying question's kind (also the Project status's; prazium_kit.models takes it
from here, so a worker importing the agents' shapes does not import every model)."""

QUESTION_TYPES: tuple[QuestionType, ...] = typing.get_args(QuestionType)
"""Allowed ``type`` values of a clarifying question; only the choice types carry ``options``."""

SPEC_DOCUMENTS = ("SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md")
"""The exact keys of the mapping :meth:`Planner.write_spec` returns."""

SpecDocuments = dict[str, str]
"""The spec documents keyed by file name (:data:`SPEC_DOCUMENTS`)."""

Answers = dict[str, object]
"""Answers keyed by question id: a string, a list of strings or a bool as the user sent
it (the spec stores answers unchecked, so agents must not assume the shape)."""


class Question(TypedDict):
    """A clarifying question; only the choice types carry ``options``."""

    id: str
    question: str
    type: QuestionType
    options: NotRequired[list[str]]


@with_config(ConfigDict(extra="allow"))
class PlanTask(TypedDict):
    """One task of a plan, as the planner writes it and the coder receives it.

    Stored plans keep unknown fields (the CRD preserves them), so a task read back
    from a request may carry more keys than these; they pass through untouched.
    """

    id: str
    slug: str
    description: NotRequired[str]
    instructions: NotRequired[str]
    dependencies: NotRequired[list[str]]
    pathScope: list[str]
    expectedOutputs: NotRequired[list[str]]
    # The argv (from the repository root) of the task's own tests: the coding loop
    # accepts the task as done only once they pass (operator agents/loop/prompts.py).
    testCommand: NotRequired[list[str]]


class PlanDocument(TypedDict):
    """A plan: its tasks, the order their branches merge in and the command that
    verifies the merged result."""

    tasks: list[PlanTask]
    mergeOrder: list[str]
    verifyCommand: NotRequired[list[str]]


_PLAN_TASK: TypeAdapter[PlanTask] = TypeAdapter(PlanTask)
_PLAN_DOCUMENT: TypeAdapter[PlanDocument] = TypeAdapter(PlanDocument)


def plan_task(stored: Mapping[str, object]) -> PlanTask:
    """A stored task definition (from a worker request, as JSON) checked against
    :class:`PlanTask`; pydantic's ValidationError names a missing or mistyped field."""
    return _PLAN_TASK.validate_python(stored)


def plan_document(plan: Mapping[str, object]) -> PlanDocument:
    """A plan that passed :func:`prazium_kit.plan.validate_plan`, as a
    :class:`PlanDocument` (the check here only confirms the types that one made sure of)."""
    return _PLAN_DOCUMENT.validate_python(plan)


@runtime_checkable
class Planner(Protocol):
    """Turns a description into questions, spec documents and a task plan."""

    def clarify(self, display_name: str, description: str) -> list[Question]:
        """Questions like ``{"id": "q1", "question": "...", "type": "single_choice",
        "options": [...]}``; ids are ``q1..qN`` in order."""
        ...

    def write_spec(
        self,
        display_name: str,
        description: str,
        answers: Answers,
        feedback: str | None,
        revision: int,
    ) -> SpecDocuments:
        """The four documents named in :data:`SPEC_DOCUMENTS`, keyed by file name.

        ``answers`` maps question ids to answers (a string, a list of strings or a
        bool); ``feedback`` is the user's regenerate request, if any.
        """
        ...

    def decompose(self, display_name: str, documents: SpecDocuments) -> PlanDocument:
        """A plan ``{"tasks": [...], "mergeOrder": [...], "verifyCommand": [...]}``
        that passes :func:`prazium_kit.plan.validate_plan`."""
        ...


@runtime_checkable
class Coder(Protocol):
    """Carries out one task of a plan."""

    def code(self, task: PlanTask, documents: SpecDocuments, worktree: pathlib.Path) -> None:
        """Create or edit files for ``task`` inside ``worktree``.

        Writes must stay within ``task["pathScope"]`` and running the same task
        twice must leave identical files (workers retry after crashes).
        """
        ...
