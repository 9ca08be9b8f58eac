"""Read-only files of a project's repository at a branch, tag or commit (verbs/files.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from prazium_api.contract.responses import Directory, FileContent, Ok, ok
from prazium_api.git import repo
from prazium_api.routers.deps import Caller, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import files

router = ApiRouter(tags=["Files"])
RefParam = Annotated[str, Query(max_length=200, description="Branch, tag or commit")]
PathParam = Annotated[
    str, Query(description=f"Directory path (at most {repo.MAX_PATH_CHARS} characters)")
]


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
    path: PathParam = "/",
) -> Ok[Directory]:
    return ok(files.list_dir(caller.tenant, projectId, ref, path, settings.data_dir))


@router.get(
    "/projects/{projectId}/files/{filePath:path}",
    summary="Get a file's content",
    operation_id="getFile",
    response_model=Ok[FileContent],
)
def get_file(
    projectId: str, filePath: str, caller: Caller, settings: Settings, ref: RefParam = "main"
) -> Ok[FileContent]:
    return ok(files.get_file(caller.tenant, projectId, ref, filePath, settings.data_dir))
