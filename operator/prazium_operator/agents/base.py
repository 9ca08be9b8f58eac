"""The two roles every agent plays, as structural types.

A *planner* asks clarifying questions, writes the four spec documents and
decomposes them into a plan; a *coder* carries out one task of that plan inside a
git worktree. Implementations are chosen by name per project/run (see
:mod:`prazium_operator.agents.registry`); the operator and the worker only ever
talk to these protocols.

Data crosses these boundaries as plain JSON-compatible dicts because it is stored
verbatim in custom-resource status and journal events.
"""

from __future__ import annotations

import pathlib
from typing import Any, Protocol, runtime_checkable


class AgentError(RuntimeError):
    """An agent could not do what was asked: its endpoint failed or answered something
    unusable. The message is safe to show (no credentials) and names the cause; the
    operator reports it in status instead of retrying blindly."""


QUESTION_TYPES = ("single_choice", "multi_choice", "boolean", "text")
"""Allowed ``type`` values of a clarifying question; only the choice types carry ``options``."""

SPEC_DOCUMENTS = ("SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md")
"""The exact keys of the mapping :meth:`Planner.write_spec` returns."""


@runtime_checkable
class Planner(Protocol):
    """Turns a description into questions, spec documents and a task plan."""

    def clarify(self, display_name: str, description: str) -> list[dict[str, Any]]:
        """Questions like ``{"id": "q1", "question": "...", "type": "single_choice",
        "options": [...]}``; ids are ``q1..qN`` in order."""
        ...

    def write_spec(
        self,
        display_name: str,
        description: str,
        answers: dict[str, object],
        feedback: str | None,
        revision: int,
    ) -> dict[str, str]:
        """The four documents named in :data:`SPEC_DOCUMENTS`, keyed by file name.

        ``answers`` maps question ids to answers (a string, a list of strings or a
        bool); ``feedback`` is the user's regenerate request, if any.
        """
        ...

    def decompose(self, display_name: str, documents: dict[str, str]) -> dict[str, Any]:
        """A plan ``{"tasks": [...], "mergeOrder": [...], "verifyCommand": [...]}``
        that passes :func:`prazium_operator.plan.validate_plan`."""
        ...


@runtime_checkable
class Coder(Protocol):
    """Carries out one task of a plan."""

    def code(self, task: dict[str, Any], documents: dict[str, str], worktree: pathlib.Path) -> None:
        """Create or edit files for ``task`` inside ``worktree``.

        Writes must stay within ``task["pathScope"]`` and running the same task
        twice must leave identical files (workers retry after crashes).
        """
        ...
