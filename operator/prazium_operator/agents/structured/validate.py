"""Checks of every answer the model gives: nothing it returns is trusted."""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass

from prazium_kit.plan import PlanError, path_in_scope, validate_plan
from prazium_operator.agents.base import (
    QUESTION_TYPES,
    SPEC_DOCUMENTS,
    AgentError,
    PlanDocument,
    Question,
    QuestionType,
    SpecDocuments,
    plan_document,
)
from prazium_operator.agents.structured.schemas import DOCUMENT_KEYS

CHOICE_TYPES = ("single_choice", "multi_choice")
MAX_FILE_BYTES = 1_000_000


class InvalidAnswer(AgentError):
    """The model answered, but not with something Prazium can use. Agents re-raise it as
    their own :class:`AgentError` subclass."""


def _object(answer: object, what: str) -> Mapping[str, object]:
    if not isinstance(answer, Mapping):
        raise InvalidAnswer(f"{what}: expected a JSON object, got {type(answer).__name__}")
    return answer


def questions(answer: object) -> list[Question]:
    items = _object(answer, "questions").get("questions")
    if not isinstance(items, list):
        raise InvalidAnswer("questions: 'questions' must be a list")
    result: list[Question] = []
    for index, item in enumerate(items, start=1):
        where = f"questions: question {index}"
        if not isinstance(item, Mapping):
            raise InvalidAnswer(f"{where} is not an object")
        if item.get("id") != f"q{index}":
            raise InvalidAnswer(f"{where} has id {item.get('id')!r}; ids must be q1..qN in order")
        text, kind, options = item.get("question"), item.get("type"), item.get("options", [])
        if not isinstance(text, str) or not text.strip():
            raise InvalidAnswer(f"{where} has no question text")
        question_type = _question_type(kind)
        if question_type is None:
            raise InvalidAnswer(f"{where} has type {kind!r}; allowed: {', '.join(QUESTION_TYPES)}")
        question: Question = {"id": f"q{index}", "question": text, "type": question_type}
        if question_type in CHOICE_TYPES:
            if (
                not isinstance(options, list)
                or len(options) < 2
                or not all(isinstance(o, str) and o.strip() for o in options)
                or len(set(options)) != len(options)
            ):
                raise InvalidAnswer(
                    f"{where} ({kind}) needs at least two distinct, non-empty string options"
                )
            question["options"] = [str(option) for option in options]
        result.append(question)
    return result


def _question_type(kind: object) -> QuestionType | None:
    return next((known for known in QUESTION_TYPES if known == kind), None)


def documents(answer: object) -> SpecDocuments:
    data = _object(answer, "spec documents")
    result: SpecDocuments = {}
    for name, key in DOCUMENT_KEYS.items():
        text = data.get(key)
        if not isinstance(text, str) or not text.strip():
            raise InvalidAnswer(f"spec documents: {name} (property {key!r}) is missing or empty")
        result[name] = text
    assert tuple(result) == SPEC_DOCUMENTS
    return result


def plan(answer: object) -> PlanDocument:
    """The plan, when it passes :func:`validate_plan` (whose PlanError lists every defect)."""
    if not isinstance(answer, Mapping):
        raise PlanError([f"the model's plan is a {type(answer).__name__}, not an object"])
    data = dict(answer)
    tasks = data.get("tasks")
    for task in tasks if isinstance(tasks, list) else []:
        # The schema asks every task for a testCommand; [] means it has none.
        if isinstance(task, dict) and task.get("testCommand") == []:
            del task["testCommand"]
    validate_plan(data)
    return plan_document(data)


@dataclass(frozen=True)
class FileChange:
    path: str
    content: str
    executable: bool = False


def files(answer: object, scope: list[str], worktree: pathlib.Path) -> list[FileChange]:
    """The files to write, each checked: relative, normalized, in scope, not via a symlink."""
    items = _object(answer, "files").get("files")
    if not isinstance(items, list) or not items:
        raise InvalidAnswer("files: the model returned no files")
    root = worktree.resolve()
    changes: list[FileChange] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidAnswer(f"files: entry {index} is not an object")
        path, content = item.get("path"), item.get("content")
        if not isinstance(path, str) or not path:
            raise InvalidAnswer(f"files: entry {index} has no path")
        if not isinstance(content, str):
            raise InvalidAnswer(f"files: {path!r} has no string content")
        check_path(path, scope, root)
        if path in seen:
            raise InvalidAnswer(f"files: {path!r} appears twice")
        if len(content.encode("utf-8")) > MAX_FILE_BYTES:
            raise InvalidAnswer(f"files: {path!r} is larger than {MAX_FILE_BYTES} bytes")
        seen.add(path)
        changes.append(FileChange(path, content, item.get("executable") is True))
    return changes


def check_path(path: str, scope: list[str], root: pathlib.Path) -> None:
    """Refuse ``path`` unless it is a clean relative path inside ``scope`` and ``root``."""
    segments = path.split("/")
    if (
        path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or any(s in ("", ".", "..") for s in segments)
    ):
        raise InvalidAnswer(f"refusing to write {path!r}: not a normalized relative path")
    if segments[0] == ".git":
        raise InvalidAnswer(f"refusing to write {path!r}: inside .git")
    if not path_in_scope(path, scope):
        raise InvalidAnswer(f"refusing to write {path!r}: outside the task's pathScope {scope}")
    current = root
    for segment in segments:
        current = current / segment
        if current.is_symlink():
            raise InvalidAnswer(
                f"refusing to write {path!r}: {current.relative_to(root)} is a symlink"
            )
    if not (root / path).resolve().is_relative_to(root):
        raise InvalidAnswer(f"refusing to write {path!r}: it resolves outside the worktree")
