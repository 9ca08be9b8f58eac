"""A project's repository, read-only: a directory or a file at a branch, tag or
commit; the bare repository git's smart HTTP serves (routers/git.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

import anyio

from prazium_api.cluster import lookup
from prazium_api.contract.errors import ApiError
from prazium_api.contract.responses import Directory, FileContent, FileEntry
from prazium_api.git import repo
from prazium_kit import paths


def list_dir(tenant: str, project_id: str, ref: str, path: str, data_dir: Path) -> Directory:
    clean = repo.clean_path(path)
    bare = _bare(tenant, project_id, data_dir)
    commit = repo.resolve(bare, ref)
    entries = [
        FileEntry(name=e.name, type=e.type, size=e.size)
        if e.type == "file"
        else FileEntry(name=e.name, type=e.type)  # a directory has no size (the key stays out)
        for e in repo.list_dir(bare, commit, clean)
    ]
    return Directory(ref=ref, commit=commit, path="/" + clean, entries=entries)


def get_file(tenant: str, project_id: str, ref: str, path: str, data_dir: Path) -> FileContent:
    """The file's content: UTF-8 text as it is, anything else base64."""
    clean = repo.clean_path(path)
    bare = _bare(tenant, project_id, data_dir)
    commit = repo.resolve(bare, ref)
    data = repo.read_file(bare, commit, clean)
    encoding: Literal["utf-8", "base64"] = "utf-8"
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError:
        content, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return FileContent(
        path=clean, ref=ref, commit=commit, content=content, encoding=encoding, size=len(data)
    )


async def repository(tenant: str, project_id: str, data_dir: Path) -> Path:
    """The project's bare repository in the tenant (404 otherwise, and before the
    spec is approved: there is no repository yet)."""
    found = await anyio.to_thread.run_sync(lookup.project, tenant, project_id)
    bare = paths.repo_path(data_dir, tenant, found.name)
    if not await anyio.to_thread.run_sync(bare.is_dir):
        raise ApiError(
            "NOT_FOUND", f"project {project_id} has no repository yet (its spec is not approved)"
        )
    return bare


def _bare(tenant: str, project_id: str, data_dir: Path) -> Path:
    return paths.repo_path(data_dir, tenant, lookup.project(tenant, project_id).name)
