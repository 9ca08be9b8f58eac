"""A planner and a coder on top of any client that returns JSON under a schema.

A provider contributes only its :class:`JsonClient` and its
:class:`~prazium_operator.agents.base.AgentError` subclass; prompts, schemas and
the checks of every answer (and of every path the coder writes) are shared.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from typing import ClassVar, Protocol

from prazium_kit.plan import path_in_scope
from prazium_kit.types import JsonObject
from prazium_operator.agents.base import (
    AgentError,
    Answers,
    PlanDocument,
    PlanTask,
    Question,
    SpecDocuments,
)
from prazium_operator.agents.structured import prompts, schemas, validate

MAX_CONTEXT_FILE_BYTES = 200_000
EXECUTABLE_MODE = 0o755


class JsonClient(Protocol):
    def complete_json(self, system: str, user: str, schema_name: str, schema: JsonObject) -> object:
        """The JSON value the model answers for these messages under ``schema``
        (unchecked: :mod:`validate` checks it)."""
        ...


class StructuredAgent:
    error: ClassVar[type[AgentError]] = AgentError
    """What this provider raises; invalid answers are re-raised as this type."""

    def __init__(self, client: JsonClient) -> None:
        self.client = client

    def _ask(self, instruction: str, schema_name: str, inputs: Mapping[str, object]) -> object:
        return self.client.complete_json(
            prompts.SYSTEM,
            prompts.user_message(instruction, inputs),
            schema_name,
            schemas.NAMES[schema_name],
        )

    def _invalid(self, exc: validate.InvalidAnswer, prefix: str = "") -> AgentError:
        return self.error(f"{prefix}{exc}")


class StructuredPlanner(StructuredAgent):
    def clarify(self, display_name: str, description: str) -> list[Question]:
        answer = self._ask(
            prompts.CLARIFY, "questions", {"displayName": display_name, "description": description}
        )
        try:
            return validate.questions(answer)
        except validate.InvalidAnswer as exc:
            raise self._invalid(exc) from None

    def write_spec(
        self,
        display_name: str,
        description: str,
        answers: Answers,
        feedback: str | None,
        revision: int,
    ) -> SpecDocuments:
        answer = self._ask(
            prompts.WRITE_SPEC,
            "spec_documents",
            {
                "displayName": display_name,
                "description": description,
                "answers": answers,
                "feedback": feedback or "",
                "revision": revision,
            },
        )
        try:
            return validate.documents(answer)
        except validate.InvalidAnswer as exc:
            raise self._invalid(exc) from None

    def decompose(self, display_name: str, documents: SpecDocuments) -> PlanDocument:
        answer = self._ask(
            prompts.DECOMPOSE, "plan", {"displayName": display_name, "documents": documents}
        )
        return validate.plan(answer)  # PlanError lists every defect


class StructuredCoder(StructuredAgent):
    def code(self, task: PlanTask, documents: SpecDocuments, worktree: pathlib.Path) -> None:
        task_id = task.get("id", "?")
        scope = [str(p) for p in task.get("pathScope") or []]
        if not scope:
            raise self.error(f"{task_id}: the task has no pathScope")
        root = worktree.resolve()
        answer = self._ask(
            prompts.CODE,
            "files",
            {
                "task": task,
                "documents": documents,
                "currentFiles": current_files(root, task.get("expectedOutputs") or [], scope),
            },
        )
        try:
            changes = validate.files(answer, scope, root)
        except validate.InvalidAnswer as exc:
            raise self._invalid(exc, f"{task_id}: ") from None
        for change in changes:  # all checked before the first write
            target = root / change.path
            data = change.content.encode("utf-8")
            if not (target.is_file() and target.read_bytes() == data):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            if change.executable:
                target.chmod(EXECUTABLE_MODE)
        missing = [p for p in task.get("expectedOutputs") or [] if not (root / p).is_file()]
        if missing:
            raise self.error(f"{task_id}: expected outputs were not produced: {missing}")


def current_files(root: pathlib.Path, outputs: list[str], scope: list[str]) -> dict[str, str]:
    """The present content of the task's expected outputs (in scope, not via symlinks)."""
    found: dict[str, str] = {}
    for path in outputs:
        if not isinstance(path, str) or not path_in_scope(path, scope):
            continue
        try:
            validate.check_path(path, scope, root)
        except validate.InvalidAnswer:
            continue
        target = root / path
        if target.is_file() and target.stat().st_size <= MAX_CONTEXT_FILE_BYTES:
            found[path] = target.read_text(encoding="utf-8", errors="replace")
    return found
