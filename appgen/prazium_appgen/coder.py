"""The template coder: writes the generated files that fall inside a task's scope.

It renders the complete app from the documents and keeps the files the task's
``pathScope`` covers, so it can only ever write inside the scope, and running a
task twice writes the same bytes. Files already holding the right content are
left untouched, so a re-run does not even change modification times.
"""

from __future__ import annotations

import pathlib

from prazium_appgen import layout
from prazium_appgen.app import app_model, render_app
from prazium_kit.agentapi import PlanTask, SpecDocuments
from prazium_kit.plan import path_in_scope

EXECUTABLE_MODE = 0o755


class CoderError(RuntimeError):
    """The task cannot be carried out by the template coder."""


class TemplateCoder:
    def code(self, task: PlanTask, documents: SpecDocuments, worktree: pathlib.Path) -> None:
        task_id = task.get("id", "?")
        scope = list(task.get("pathScope") or [])
        files = {
            path: content
            for path, content in render_app(app_model(documents)).items()
            if path_in_scope(path, scope)
        }
        if not files:
            raise CoderError(
                f"{task_id}: the template coder generates no file inside pathScope {scope}"
            )
        root = worktree.resolve()
        for path, content in files.items():
            write_file(root, path, content)
        missing = [path for path in task.get("expectedOutputs", []) if not (root / path).is_file()]
        if missing:
            raise CoderError(f"{task_id}: expected outputs were not produced: {missing}")


def write_file(root: pathlib.Path, relative: str, content: str) -> None:
    target = root / relative
    # A symlink committed into the worktree must not redirect writes outside it.
    if not target.resolve().is_relative_to(root):
        raise CoderError(f"refusing to write {relative}: it resolves outside the worktree")
    data = content.encode("utf-8")
    if not (target.is_file() and target.read_bytes() == data):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if relative in layout.EXECUTABLE_FILES:
        target.chmod(EXECUTABLE_MODE)
