"""The git CLI, as the operator and the worker use it on the shared repo volume.

One bare repository per project (branch ``main``), one worktree per task. The
git command line is used everywhere (not gitpython) because worktrees,
``merge-tree --write-tree`` and compare-and-swap ``update-ref`` are first-class
there. Commits the operator makes itself (spec, merges, dependency bases) carry
fixed dates, so re-running the same step after a crash yields the same SHA.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAIN = "main"
OPERATOR_AUTHOR = ("Prazium", "operator@prazium.io")
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class GitError(RuntimeError):
    """A git command failed; the message holds the command and its stderr."""


def git(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input_bytes: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    # Never read the user's global config or prompt: the repo volume is shared.
    full_env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        HOME=str(cwd),
        GIT_CONFIG_GLOBAL="/dev/null",
    )
    if env:
        full_env.update(env)
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        check=False,
        input=input_bytes.decode() if input_bytes is not None else None,
        text=True,
    )
    if check and proc.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def identity_env(name: str, email: str, date: str | None = None) -> dict[str, str]:
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return env


def init_bare(repo: Path) -> None:
    """Create the project's bare repository with an empty root commit on main (idempotent)."""
    if (repo / "HEAD").exists() and rev_parse(repo, MAIN):
        return
    repo.mkdir(parents=True, exist_ok=True)
    git("init", "--bare", "--initial-branch", MAIN, ".", cwd=repo)
    git("config", "gc.auto", "0", cwd=repo)  # no background gc racing parallel workers
    if rev_parse(repo, MAIN) is None:
        env = identity_env(*OPERATOR_AUTHOR, date="2000-01-01T00:00:00Z")
        root = git("commit-tree", EMPTY_TREE, "-m", "Initial commit", cwd=repo, env=env)
        update_ref(repo, MAIN, root.stdout.strip(), None)


def rev_parse(repo: Path, rev: str) -> str | None:
    proc = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=repo, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def show_file(repo: Path, commit: str, path: str) -> str:
    """The text of path at commit (GitError when it is not there)."""
    return git("show", f"{commit}:{path}", cwd=repo).stdout


def branch_ref(branch: str) -> str:
    return f"refs/heads/{branch}"


def update_ref(repo: Path, branch: str, new: str, old: str | None) -> None:
    """Compare-and-swap a branch: fails unless it still points at old (None: must not exist)."""
    git("update-ref", branch_ref(branch), new, old or "0" * 40, cwd=repo)


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    proc = git("merge-base", "--is-ancestor", ancestor, descendant, cwd=repo, check=False)
    return proc.returncode == 0


def commit_files(repo: Path, parent: str, files: Mapping[str, str], message: str, date: str) -> str:
    """A commit on top of parent that adds/replaces files, built without a worktree."""
    index = repo / f"prazium-index-{os.getpid()}"
    env = {**identity_env(*OPERATOR_AUTHOR, date=date), "GIT_INDEX_FILE": str(index)}
    try:
        git("read-tree", parent, cwd=repo, env=env)
        for path, content in sorted(files.items()):
            blob = git(
                "hash-object", "-w", "--stdin", cwd=repo, input_bytes=content.encode()
            ).stdout.strip()
            git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", cwd=repo, env=env)
        tree = git("write-tree", cwd=repo, env=env).stdout.strip()
    finally:
        index.unlink(missing_ok=True)
    if tree == git("rev-parse", f"{parent}^{{tree}}", cwd=repo).stdout.strip():
        return parent
    return git("commit-tree", tree, "-p", parent, "-m", message, cwd=repo, env=env).stdout.strip()


@dataclass(frozen=True)
class MergeOutcome:
    commit: str | None
    conflicts: list[str]


def merge(repo: Path, ours: str, theirs: str, message: str, date: str) -> MergeOutcome:
    """Merge theirs into ours without a worktree (git merge-tree --write-tree).

    Already contained: ours; fast-forward: theirs; otherwise a merge commit with
    fixed date (same inputs, same SHA). Conflicts: no commit, the paths named.
    """
    if is_ancestor(repo, theirs, ours):
        return MergeOutcome(ours, [])
    if is_ancestor(repo, ours, theirs):
        return MergeOutcome(theirs, [])
    proc = git(
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        ours,
        theirs,
        cwd=repo,
        check=False,
    )
    lines = proc.stdout.splitlines()
    if proc.returncode == 1:
        return MergeOutcome(None, sorted(set(line for line in lines[1:] if line.strip())))
    if proc.returncode != 0:
        raise GitError(f"git merge-tree failed ({proc.returncode}): {proc.stderr.strip()}")
    tree = lines[0].strip()
    env = identity_env(*OPERATOR_AUTHOR, date=date)
    commit = git(
        "commit-tree", tree, "-p", ours, "-p", theirs, "-m", message, cwd=repo, env=env
    ).stdout.strip()
    return MergeOutcome(commit, [])


def parse_name_status(out: str) -> tuple[list[str], list[str]]:
    """(created, modified) paths of `git diff --name-status --no-renames` output."""
    created: list[str] = []
    modified: list[str] = []
    for line in out.splitlines():
        status, _, path = line.partition("\t")
        if status.startswith("A"):
            created.append(path)
        elif status.startswith(("M", "T", "D")):
            modified.append(path)
    return created, modified


def export_tree(repo: Path, commit: str, target: Path) -> None:
    """A clean checkout of commit in target (no worktree, so nothing to lock or prune)."""
    target.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=repo, capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(target, filter="data")
        else:
            # Python 3.11 before 3.11.4 (Debian bookworm's, the image's) has no
            # extraction filters: refuse what the "data" filter would.
            for member in archive.getmembers():
                _check_member(member)
            archive.extractall(target)  # every member checked above


def _check_member(member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        raise ValueError(f"unsafe path in the archive: {member.name!r}")
    if not (member.isfile() or member.isdir() or member.issym()):
        raise ValueError(f"unsupported member in the archive: {member.name!r}")
    if member.issym():
        link = PurePosixPath(member.linkname)
        resolved = (name.parent / link).parts
        depth = 0
        for part in resolved:
            depth += -1 if part == ".." else (0 if part == "." else 1)
            if depth < 0:
                break
        if link.is_absolute() or depth < 0:
            raise ValueError(f"link out of the tree in the archive: {member.name!r}")


def remove_worktree(repo: Path, worktree: Path) -> None:
    """Remove a task worktree and its administrative entry, even if locked or half-made."""
    if worktree.exists():
        git("worktree", "remove", "--force", "--force", str(worktree), cwd=repo, check=False)
        shutil.rmtree(worktree, ignore_errors=True)
    git("worktree", "prune", cwd=repo, check=False)
