"""Read-only files of a project's repository at a branch, tag or commit."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Query

from prazium_api.cluster import lookup
from prazium_api.contract.responses import Directory, FileContent, FileEntry, Ok, ok
from prazium_api.git import repo
from prazium_api.routers.deps import Caller, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_kit import paths

router = ApiRouter(tags=["Files"])
RefParam = Annotated[str, Query(max_length=200, description="Branch, tag or commit")]


def _repo_of(caller: Caller, project_id: str, data_dir: Path) -> Path:
    name = lookup.project(caller.tenant, project_id).name
    return paths.repo_path(data_dir, caller.tenant, name)


@router.get(
    "/projects/{projectId}/files",
    summary="List a directory of the repository",
    operation_id="listFiles",
    response_model=Ok[Directory],
)
def list_files(
    projectId: str,
    caller: Caller,
    settings: Settings,
    ref: RefParam = "main",
    path: Annotated[
        str, Query(description=f"Directory path (at most {repo.MAX_PATH_CHARS} characters)")
    ] = "/",
) -> Ok[Directory]:
    clean = repo.clean_path(path)
    bare = _repo_of(caller, projectId, settings.data_dir)
    commit = repo.resolve(bare, ref)
    entries = [
        FileEntry(name=e.name, type=e.type, size=e.size)
        if e.type == "file"
        else FileEntry(name=e.name, type=e.type)
        for e in repo.list_dir(bare, commit, clean)
    ]
    return ok(Directory(ref=ref, commit=commit, path="/" + clean, entries=entries))


@router.get(
    "/projects/{projectId}/files/{filePath:path}",
    summary="Get a file's content",
    operation_id="getFile",
    response_model=Ok[FileContent],
)
def get_file(
    projectId: str, filePath: str, caller: Caller, settings: Settings, ref: RefParam = "main"
) -> Ok[FileContent]:
    clean = repo.clean_path(filePath)
    bare = _repo_of(caller, projectId, settings.data_dir)
    commit = repo.resolve(bare, ref)
    data = repo.read_file(bare, commit, clean)
    encoding: Literal["utf-8", "base64"] = "utf-8"
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError:
        content, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return ok(
        FileContent(
            path=clean, ref=ref, commit=commit, content=content, encoding=encoding, size=len(data)
        )
    )
