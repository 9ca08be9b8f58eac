"""Read-only files of a project's repository at a branch, tag or commit."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query

from prazium_api import lookup, repo
from prazium_api.deps import Caller, ok
from prazium_api.settings import get_api_settings
from prazium_kit import paths

router = APIRouter(tags=["files"])
RefParam = Annotated[str, Query(max_length=200, description="Branch, tag or commit")]


def _repo_of(caller: Caller, project_id: str) -> Any:
    name = lookup.project(caller.tenant, project_id)["metadata"]["name"]
    return paths.repo_path(get_api_settings().data_dir, caller.tenant, name)


@router.get("/projects/{projectId}/files", summary="List a directory of the repository")
def list_files(projectId: str, caller: Caller, ref: RefParam = "main",
               path: Annotated[str, Query(max_length=1000, description="Directory path")] = "/",
               ) -> dict[str, Any]:
    clean = repo.clean_path(path)
    bare = _repo_of(caller, projectId)
    commit = repo.resolve(bare, ref)
    entries = [{"name": e.name, "type": e.type, **({"size": e.size} if e.type == "file" else {})}
               for e in repo.list_dir(bare, commit, clean)]
    return ok({"ref": ref, "commit": commit, "path": "/" + clean, "entries": entries})


@router.get("/projects/{projectId}/files/{filePath:path}", summary="Get a file's content")
def get_file(projectId: str, filePath: str, caller: Caller, ref: RefParam = "main",
             ) -> dict[str, Any]:
    clean = repo.clean_path(filePath)
    bare = _repo_of(caller, projectId)
    commit = repo.resolve(bare, ref)
    data = repo.read_file(bare, commit, clean)
    try:
        content, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        content, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return ok({"path": clean, "ref": ref, "commit": commit, "content": content,
               "encoding": encoding, "size": len(data)})
