"""Read-only access to a project's bare repository with the git CLI: resolve a
ref, list a directory, read a file. Refs and paths are validated before git sees
them, and every git call names the object with "--end-of-options" or "--"."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from prazium_api.contract.errors import ApiError, invalid

# Branch, tag or commit names: no leading "-", no "..", no "@{", no control chars.
_REF = re.compile(r"^(?!-)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/+-]{1,200}$")
MAX_CONTENT_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    name: str
    type: Literal["file", "directory"]
    size: int | None


# Longest path a request may name (git itself allows 4096 bytes; no generated
# repository comes near 1024 characters).
MAX_PATH_CHARS = 1024


def clean_path(raw: str) -> str:
    """A repository-relative path, or 400 VALIDATION_ERROR for anything that could
    step outside the tree ("..", NUL, backslashes) or is longer than MAX_PATH_CHARS.
    Every path input (`/files/{path}`, `?path=`) comes through here: the one cap."""
    if len(raw) > MAX_PATH_CHARS:  # never echoed back
        raise invalid(
            f"path is longer than {MAX_PATH_CHARS} characters", "path", maxLength=MAX_PATH_CHARS
        )
    text = raw.strip()
    if "\x00" in text or "\\" in text:
        raise invalid("path contains forbidden characters", "path")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise invalid("path must not contain '..' (no path traversal)", "path")
    return "/".join(parts)


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", "--git-dir", str(repo), *args], capture_output=True, timeout=60, check=False
    )


def resolve(repo: Path, ref: str) -> str:
    """The commit a branch, tag or commit id names; 404 when it does not exist."""
    if not repo.is_dir():
        raise ApiError("NOT_FOUND", "the project has no repository yet (no build has run)")
    if not _REF.fullmatch(ref):
        raise invalid(f"invalid ref {ref!r}", "ref")
    result = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if result.returncode != 0:
        raise ApiError("NOT_FOUND", f"ref {ref} not found")
    return result.stdout.decode().strip()


def _ls_tree(
    repo: Path, target: str, not_found: str, *flags: str
) -> list[tuple[str, str, int | None, str]]:
    """(mode, type, size, name) of `git ls-tree -l -z [flags] target`'s entries."""
    result = _git(repo, "ls-tree", "-l", "-z", *flags, "--end-of-options", target)
    if result.returncode != 0:
        raise ApiError("NOT_FOUND", not_found)
    entries = []
    for record in result.stdout.split(b"\0"):
        if not record:
            continue
        meta, _, name = record.partition(b"\t")
        mode, kind, _, size = meta.decode().split(maxsplit=3)
        entries.append(
            (
                mode,
                kind,
                int(size) if size.strip().isdigit() else None,
                name.decode("utf-8", "replace"),
            )
        )
    return entries


def _ls(repo: Path, commit: str, path: str) -> list[tuple[str, str, int | None, str]]:
    """The entries of one directory of a commit."""
    target = f"{commit}:{path}" if path else f"{commit}^{{tree}}"
    return _ls_tree(repo, target, f"directory {path or '/'} not found")


def object_type(repo: Path, commit: str, path: str) -> str | None:
    result = _git(repo, "cat-file", "-t", "--end-of-options", f"{commit}:{path}")
    return result.stdout.decode().strip() if result.returncode == 0 else None


def list_dir(repo: Path, commit: str, path: str) -> list[Entry]:
    if path and object_type(repo, commit, path) != "tree":
        raise ApiError("NOT_FOUND", f"directory {path} not found")
    entries = [
        Entry(name, "directory" if kind == "tree" else "file", None if kind == "tree" else size)
        for _, kind, size, name in _ls(repo, commit, path)
        if kind in ("tree", "blob")
    ]
    return sorted(entries, key=lambda e: (e.type != "directory", e.name))


def read_file(repo: Path, commit: str, path: str) -> bytes:
    if not path or object_type(repo, commit, path) != "blob":
        raise ApiError("NOT_FOUND", f"file {path or '/'} not found")
    size = _git(repo, "cat-file", "-s", "--end-of-options", f"{commit}:{path}")
    if int(size.stdout or 0) > MAX_CONTENT_BYTES:
        raise invalid(
            f"file {path} is larger than {MAX_CONTENT_BYTES} bytes; export the repository instead",
            "path",
        )
    result = _git(repo, "cat-file", "blob", "--end-of-options", f"{commit}:{path}")
    if result.returncode != 0:
        raise ApiError("NOT_FOUND", f"file {path} not found")
    return result.stdout


def tree_files(repo: Path, commit: str) -> list[tuple[str, int]]:
    """(path, size) of every file in the commit."""
    return [
        (name, size or 0)
        for _, kind, size, name in _ls_tree(repo, commit, f"commit {commit} not found", "-r")
        if kind == "blob"
    ]


def archive(repo: Path, commit: str, fmt: str, prefix: str, output: Path) -> None:
    result = _git(
        repo,
        "archive",
        f"--format={fmt}",
        f"--prefix={prefix}/",
        "-o",
        str(output),
        "--end-of-options",
        commit,
    )
    if result.returncode != 0:
        raise RuntimeError(f"git archive failed: {result.stderr.decode()[-300:]}")
