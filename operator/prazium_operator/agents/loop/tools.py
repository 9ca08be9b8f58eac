"""The loop's file tools, confined to the task's worktree, and every tool's definition.

Reads may look at the whole worktree (the task builds on its dependencies' files);
writes only inside the task's pathScope. A path is refused, as a tool error the model
reads and can act on, when it is absolute, holds ``..``, names ``.git``, passes through
a symlink (writes) or resolves outside the worktree (reads). Every result is bounded
(READ_MAX_BYTES, LIST_MAX_ENTRIES, SEARCH_MAX_MATCHES); the loop bounds their sum.

``run`` and ``finish`` are defined here but carried out by the session
(agents/loop/session.py): they need the sandbox and the task's tests.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from prazium_kit.plan import path_in_scope
from prazium_kit.types import JsonObject
from prazium_operator.agents.loop.search import SEARCH_MAX_MATCHES, Searcher
from prazium_operator.agents.structured.validate import MAX_FILE_BYTES, InvalidAnswer, check_path

READ_MAX_BYTES = 64 * 1024
READ_FILE_MAX_BYTES = 8_000_000
LIST_MAX_ENTRIES = 400
EXECUTABLE_MODE = 0o755
FILE_MODE = 0o644


class ToolError(Exception):
    """A tool call that cannot be carried out; the message is what the model reads."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: JsonObject


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for. arguments is None when they could not be read
    (problem says why: not JSON, not an object, cut off)."""

    id: str
    name: str
    arguments: Mapping[str, object] | None
    problem: str | None = None


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    content: str
    # One line for the transcript: sizes and outcome, never a file's content.
    summary: str
    finished: bool = False
    # Seconds a command of it took (run, finish's tests): not the loop's own time.
    command_seconds: float = 0.0

    @property
    def size(self) -> int:
        return len(self.content.encode("utf-8"))


def _params(properties: JsonObject, required: list[str]) -> JsonObject:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


_PATH = {"type": "string", "description": "Repository-relative path, such as app/server.py."}

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "list_files",
        "List the repository's files (not .git) whose path matches a glob: '*' within"
        " one path segment, '**' any depth. Default: every file.",
        _params({"glob": {"type": "string", "description": "Such as app/** or *.py."}}, []),
    ),
    ToolSpec(
        "read_file",
        f"Read a text file, or a range of its lines (1-based, inclusive); at most"
        f" {READ_MAX_BYTES // 1024} KiB are returned, then read further with start_line.",
        _params(
            {
                "path": _PATH,
                "start_line": {"type": "integer", "minimum": 1},
                "end_line": {"type": "integer", "minimum": 1},
            },
            ["path"],
        ),
    ),
    ToolSpec(
        "search",
        f"Search the repository's text files for a Python regular expression; returns"
        f" path:line: text for up to {SEARCH_MAX_MATCHES} matching lines.",
        _params(
            {
                "pattern": {"type": "string"},
                "glob": {"type": "string", "description": "Only files matching this glob."},
            },
            ["pattern"],
        ),
    ),
    ToolSpec(
        "write_file",
        "Create or overwrite a file with the complete content given. Only paths inside"
        " the task's pathScope may be written.",
        _params(
            {
                "path": _PATH,
                "content": {"type": "string"},
                "executable": {
                    "type": "boolean",
                    "description": "Only for scripts that must be run directly.",
                },
            },
            ["path", "content"],
        ),
    ),
    ToolSpec(
        "edit_file",
        "Replace old_string, which must occur exactly once in the file (whitespace"
        " included), with new_string. Only paths inside the task's pathScope.",
        _params(
            {"path": _PATH, "old_string": {"type": "string"}, "new_string": {"type": "string"}},
            ["path", "old_string", "new_string"],
        ),
    ),
    ToolSpec(
        "run",
        "Run a shell command (sh -c) in a fresh copy of the repository in the task's"
        " sandbox, for example the task's tests or one test file. Its changes to files are"
        " not kept: change files with write_file or edit_file. Returns the exit code and"
        " the output (its start and end when long). No network access is promised.",
        _params(
            {
                "command": {"type": "string"},
                "timeout": {"type": "number", "description": "Seconds; capped by the platform."},
            },
            ["command"],
        ),
    ),
    ToolSpec(
        "finish",
        "Say the task is done, with a short summary. The task's tests are run first; if"
        " they fail, their output comes back and the task is not done.",
        _params({"summary": {"type": "string"}}, ["summary"]),
    ),
)
TOOL_NAMES = frozenset(tool.name for tool in TOOLS)


def _text(arguments: Mapping[str, object], name: str, *, required: bool = True) -> str:
    value = arguments.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ToolError(f"argument {name!r} must be a string")
    return value


def _line(arguments: Mapping[str, object], name: str) -> int | None:
    value = arguments.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) < 1:
        raise ToolError(f"argument {name!r} must be a positive line number")
    return int(value)


def _glob(arguments: Mapping[str, object]) -> str:
    """The glob argument ("" for every file)."""
    pattern = _text(arguments, "glob", required=False).strip()
    pattern = pattern.removeprefix("./")
    return "" if pattern in ("**", "**/*") else pattern


class Workspace:
    """The task's worktree as the file tools see it."""

    def __init__(self, root: Path, scope: list[str]) -> None:
        self.root = root.resolve()
        self.scope = scope
        self.searcher = Searcher()

    def close(self) -> None:
        self.searcher.close()

    # -- paths ------------------------------------------------------------------

    def readable(self, path: str) -> tuple[str, Path]:
        """(normalized path, resolved file) of a path the model may read."""
        if not path or "\x00" in path or "\\" in path:
            raise ToolError(f"{path!r} is not a repository-relative path")
        if path.startswith("/"):
            raise ToolError(f"{path!r} is absolute; give a path relative to the repository")
        normal = posixpath.normpath(path)
        if normal == ".." or normal.startswith("../") or "/../" in f"/{normal}/":
            raise ToolError(f"{path!r} leads outside the repository")
        if normal.split("/")[0] == ".git" or normal == ".":
            raise ToolError(f"{path!r} is not a file of the repository")
        target = (self.root / normal).resolve()
        if not target.is_relative_to(self.root):
            raise ToolError(f"{path!r} resolves outside the repository (a symlink)")
        if target.is_relative_to(self.root / ".git"):
            raise ToolError(f"{path!r} resolves into .git")
        return normal, target

    def writable(self, path: str) -> Path:
        try:
            check_path(path, self.scope, self.root)
        except InvalidAnswer as exc:
            raise ToolError(f"{exc}; the task may write only {self.scope}") from None
        return self.root / path

    # -- tools --------------------------------------------------------------------

    def files(self, pattern: str = "") -> Iterator[str]:
        """Repository-relative paths of regular files, sorted per directory; .git and
        symlinks left out (search reads what this lists: never through a link). A
        worktree's .git is a file pointing at the repository: left out too."""
        for directory, dirs, names in os.walk(self.root):
            dirs[:] = sorted(d for d in dirs if d != ".git")
            base = Path(directory).relative_to(self.root)
            for name in sorted(n for n in names if n != ".git"):
                relative = (base / name).as_posix()
                if pattern and not path_in_scope(relative, [pattern]):
                    continue
                found = Path(directory) / name
                if not found.is_symlink() and found.is_file():
                    yield relative

    def list_files(self, arguments: Mapping[str, object]) -> ToolResult:
        pattern = _glob(arguments)
        found: list[str] = []
        total = 0
        for path in self.files(pattern):
            total += 1
            if len(found) < LIST_MAX_ENTRIES:
                found.append(path)
        if not found:
            return ToolResult(True, "(no files)", "0 files")
        more = f"\n... and {total - len(found)} more" if total > len(found) else ""
        return ToolResult(True, "\n".join(found) + more, f"{total} files")

    def read_file(self, arguments: Mapping[str, object]) -> ToolResult:
        path, target = self.readable(_text(arguments, "path"))
        first, last = _line(arguments, "start_line"), _line(arguments, "end_line")
        if not target.is_file():
            what = "is not a file" if target.exists() else "does not exist"
            raise ToolError(f"{path} {what}")
        with open(target, "rb") as handle:  # resolved above: inside the worktree
            data = handle.read(READ_FILE_MAX_BYTES)
        if b"\x00" in data[:8192]:
            raise ToolError(f"{path} is a binary file")
        lines = data.decode("utf-8", errors="replace").splitlines(keepends=True)
        start = (first or 1) - 1
        end = min(len(lines), last or len(lines))
        if start >= max(len(lines), 1) and lines:
            raise ToolError(f"{path} has {len(lines)} lines; start_line {first} is past its end")
        chosen: list[str] = []
        size, cut = 0, False
        for line in lines[start:end]:
            size += len(line.encode("utf-8"))
            if size > READ_MAX_BYTES and chosen:
                cut = True
                break
            chosen.append(line)
        shown_end = start + len(chosen)
        header = f"{path}: lines {start + 1}-{shown_end} of {len(lines)}\n" if lines else ""
        note = (
            f"\n[truncated at {READ_MAX_BYTES // 1024} KiB:"
            f" continue with start_line={shown_end + 1}]"
            if cut
            else ""
        )
        content = header + "".join(chosen) + note
        return ToolResult(
            True,
            content,
            f"lines {start + 1}-{shown_end} of {len(lines)}",
        )

    def search(self, arguments: Mapping[str, object]) -> ToolResult:
        expression = _text(arguments, "pattern")
        pattern = _glob(arguments)
        try:
            re.compile(expression)  # its syntax errors are the model's to read
        except re.error as exc:
            raise ToolError(f"invalid regular expression {expression!r}: {exc}") from None
        files = list(self.files(pattern))
        try:
            matches, total = self.searcher.search(self.root, files, expression)
        except TimeoutError as exc:
            raise ToolError(
                f"the search took longer than {exc.args[0]:.0f} s (a pattern that"
                " backtracks too much?): simplify the regular expression or narrow the glob"
            ) from None
        except RuntimeError as exc:
            raise ToolError(f"the search failed: {exc}") from None
        summary = f"{total} matches"
        if not matches:
            return ToolResult(True, "(no matches)", summary)
        more = f"\n... and {total - len(matches)} more" if total > len(matches) else ""
        return ToolResult(True, "\n".join(matches) + more, summary)

    def write_file(self, arguments: Mapping[str, object]) -> ToolResult:
        path = _text(arguments, "path")
        content = _text(arguments, "content")
        executable = arguments.get("executable") is True
        target = self.writable(path)
        data = content.encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise ToolError(f"{path}: {len(data)} bytes is more than the {MAX_FILE_BYTES} allowed")
        if target.is_dir():
            raise ToolError(f"{path} is a directory")
        existed = target.is_file()
        _write(target, data, executable or (existed and _is_executable(target)))
        verb = "overwrote" if existed else "created"
        lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
        return ToolResult(
            True,
            f"{verb} {path} ({len(data)} bytes, {lines} lines)",
            f"{verb}{', executable' if executable else ''}",
        )

    def edit_file(self, arguments: Mapping[str, object]) -> ToolResult:
        path = _text(arguments, "path")
        old, new = _text(arguments, "old_string"), _text(arguments, "new_string")
        target = self.writable(path)
        if not target.is_file():
            raise ToolError(f"{path} does not exist; create it with write_file")
        if not old:
            raise ToolError("old_string is empty; give the exact text to replace")
        if old == new:
            raise ToolError("old_string and new_string are the same: nothing would change")
        text = target.read_text(encoding="utf-8", errors="replace")
        count = text.count(old)
        if count == 0:
            raise ToolError(
                f"old_string was not found in {path}: read the file and copy the text exactly,"
                " whitespace and indentation included"
            )
        if count > 1:
            raise ToolError(
                f"old_string occurs {count} times in {path}: include more of the surrounding"
                " lines so that it occurs exactly once"
            )
        updated = text.replace(old, new, 1).encode("utf-8")
        if len(updated) > MAX_FILE_BYTES:
            raise ToolError(f"{path} would grow past the {MAX_FILE_BYTES} bytes allowed")
        _write(target, updated, _is_executable(target))
        removed, added = old.count("\n") + 1, new.count("\n") + 1
        return ToolResult(
            True,
            f"edited {path}: {removed} line(s) replaced by {added}",
            f"{removed} line(s) replaced by {added}",
        )


def _is_executable(path: Path) -> bool:
    return bool(path.stat().st_mode & stat.S_IXUSR)


def _write(target: Path, data: bytes, executable: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Never through a symlink at the last segment (check_path refused links before;
    # this closes the gap to a link made since).
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(target, EXECUTABLE_MODE if executable else FILE_MODE)
