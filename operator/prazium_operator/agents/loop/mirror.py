"""The run tool's private copy of the worktree, brought back to the worktree's state
before every command by copying only what changed.

A full copy per command (remove, copy every file, give them to the sandbox uid) costs
a file creation per file, which on a busy disk is most of a step's time (bench/
bench_agent_loop.py). The mirror instead remembers what it put in the copy and, before
the next command:

* removes from the copy everything the last command may have touched: entries it did
  not put there, and entries whose inode, change time, modification time, size or mode
  are not what it recorded. The change time (ctime) cannot be set by a process, and
  moves on any write, chmod, rename or link; as the filesystem's clock is coarse, a
  sync ends only once that clock has ticked past its last write (a fence file shows
  it), so a command's change always gets a later ctime than the one recorded;
* copies from the worktree what is missing from the copy, or changed in the worktree
  since it was copied (the model's writes), and drops what the worktree lost.

Nothing in the copy is followed or trusted: entries are read with lstat, written with
O_NOFOLLOW | O_EXCL after whatever was at their name is removed, and the sync runs
only when every process of the sandbox is gone (commands.py kills them after each
command). The worktree's .git (and any .git below) is never copied.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SKIP = ".git"
# The longest wait for the filesystem's clock to tick (it ticks every few milliseconds).
FENCE_SECONDS = 0.05
FILE_MODE, EXECUTABLE_MODE, DIRECTORY_MODE = 0o644, 0o755, 0o755


@dataclass(frozen=True)
class _Copied:
    kind: str  # "dir" | "file" | "link"
    source: tuple[int, int, int, int]  # the worktree entry: ino, mtime, size, mode
    target: tuple[int, int, int, int, int]  # the copy: ino, ctime, mtime, size, mode


def _source_sig(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode)


def _target_sig(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_ino, st.st_ctime_ns, st.st_mtime_ns, st.st_size, st.st_mode)


def _kind(mode: int) -> str | None:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "link"
    return None  # a FIFO, a socket, a device: never copied


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)


class Mirror:
    def __init__(self, source: Path, target: Path, uid: int | None) -> None:
        self.source = str(source)
        self.target = str(target)
        self.uid = uid
        self.copied: dict[str, _Copied] = {}
        fd, self._fence_path = tempfile.mkstemp(prefix="prazium-fence-")
        self._fence_fd = fd
        self._root_ino = -1  # the copy's directory is made (again) at the first sync
        self.files_copied = 0  # by the last sync (for tests and the bench)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fence_fd)
        with contextlib.suppress(OSError):
            os.unlink(self._fence_path)

    def sync(self) -> None:
        self.files_copied = 0
        self._root()
        kept: set[str] = set()
        self._prune(self.target, "", kept)
        for rel in [rel for rel in self.copied if rel not in kept]:
            del self.copied[rel]
        present: set[str] = set()
        self._copy(self.source, self.target, "", present)
        for rel in sorted((r for r in self.copied if r not in present), key=len):
            _remove(os.path.join(self.target, rel))  # gone from the worktree
            self._forget(rel)
        self._past_the_tick()

    def _past_the_tick(self) -> None:
        """Return once the filesystem's clock (coarse: a tick of a few milliseconds) has
        moved past every change time the sync wrote, so whatever the next command
        changes gets a later ctime than anything recorded, even in the same tick."""
        os.write(self._fence_fd, b".")
        written = os.fstat(self._fence_fd).st_ctime_ns
        deadline = time.monotonic() + FENCE_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.0005)
            os.write(self._fence_fd, b".")
            if os.fstat(self._fence_fd).st_ctime_ns > written:
                break
        os.ftruncate(self._fence_fd, 0)

    # -- the copy: drop what the last command may have touched -----------------------

    def _root(self) -> None:
        """The copy's own directory, as it was made (a command may have removed it,
        put a link in its place or taken its permissions away)."""
        try:
            st: os.stat_result | None = os.lstat(self.target)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISDIR(st.st_mode) and st.st_ino == self._root_ino:
            os.chmod(self.target, DIRECTORY_MODE)
            return
        if st is not None:
            _remove(self.target)
        os.mkdir(self.target, DIRECTORY_MODE)
        if self.uid is not None:
            os.lchown(self.target, self.uid, self.uid)
        self._root_ino = os.lstat(self.target).st_ino
        self.copied.clear()

    def _prune(self, directory: str, prefix: str, kept: set[str]) -> None:
        with os.scandir(directory) as entries:
            listed = list(entries)
        for entry in listed:
            rel = f"{prefix}{entry.name}"
            st = entry.stat(follow_symlinks=False)
            record = self.copied.get(rel)
            if record is None or record.kind != _kind(st.st_mode):
                _remove(entry.path)
                continue
            if record.kind == "dir":
                if st.st_ino != record.target[0]:
                    _remove(entry.path)
                    continue
                if stat.S_IMODE(st.st_mode) != stat.S_IMODE(record.target[4]):
                    os.chmod(entry.path, stat.S_IMODE(record.target[4]))
                kept.add(rel)
                self._prune(entry.path, f"{rel}/", kept)
                continue
            if _target_sig(st) != record.target:
                _remove(entry.path)
                continue
            kept.add(rel)

    # -- the worktree: copy what is new or changed -----------------------------------

    def _copy(self, directory: str, into: str, prefix: str, present: set[str]) -> None:
        with os.scandir(directory) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            if entry.name == SKIP:
                continue
            st = entry.stat(follow_symlinks=False)
            kind = _kind(st.st_mode)
            if kind is None:
                continue
            rel = f"{prefix}{entry.name}"
            present.add(rel)
            dest = os.path.join(into, entry.name)
            record = self.copied.get(rel)
            if record is not None and (
                record.kind != kind or (kind != "dir" and record.source != _source_sig(st))
            ):
                _remove(dest)
                self._forget(rel)
                record = None
            if kind == "dir":
                if record is None:
                    os.mkdir(dest, DIRECTORY_MODE)
                    self._record(rel, "dir", st, dest)
                self._copy(entry.path, dest, f"{rel}/", present)
            elif record is None:
                if kind == "file":
                    self._copy_file(entry.path, dest, st)
                else:
                    os.symlink(os.readlink(entry.path), dest)
                self._record(rel, kind, st, dest)

    def _copy_file(self, source: str, dest: str, st: os.stat_result) -> None:
        mode = EXECUTABLE_MODE if st.st_mode & stat.S_IXUSR else FILE_MODE
        read = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            write = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
            try:
                left = st.st_size
                while left > 0:
                    sent = os.sendfile(write, read, None, left)
                    if sent == 0:
                        break
                    left -= sent
                os.fchmod(write, mode)
            finally:
                os.close(write)
        finally:
            os.close(read)
        self.files_copied += 1

    def _record(self, rel: str, kind: str, source: os.stat_result, dest: str) -> None:
        if self.uid is not None:
            os.lchown(dest, self.uid, self.uid)
        self.copied[rel] = _Copied(kind, _source_sig(source), _target_sig(os.lstat(dest)))

    def _forget(self, rel: str) -> None:
        self.copied.pop(rel, None)
        for child in [r for r in self.copied if r.startswith(f"{rel}/")]:
            del self.copied[child]
