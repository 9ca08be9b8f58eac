"""A project's repository over git's smart HTTP protocol, read-only:
`git clone <cloneUrl>` and `git fetch`, where cloneUrl is
<base>/v1/projects/{projectId}/git (contract/views.py, clone_url).

Served by git's own http-backend (git/http_backend.py). Only the two requests of
the upload-pack service (clone, fetch, ls-remote) are answered; a push (the
receive-pack service) is refused with 403 FORBIDDEN, and the dumb protocol's
plain file requests are not served at all. Credentials: git/credentials.py; the
project is looked up in the caller's tenant (verbs/files.py), so another tenant's
project is 404.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from prazium_api.auth import authn
from prazium_api.auth.keys import Principal
from prazium_api.contract.errors import ApiError, invalid
from prazium_api.git import credentials, http_backend
from prazium_api.routers.deps import Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import files

router = ApiRouter(tags=["Files"])
GitCaller = Annotated[Principal, Depends(credentials.git_caller)]
ADVERTISEMENT = f"application/x-{http_backend.UPLOAD_PACK}-advertisement"
REQUEST = f"application/x-{http_backend.UPLOAD_PACK}-request"
RESULT = f"application/x-{http_backend.UPLOAD_PACK}-result"
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_READ_ONLY = {
    "description": "A push (service git-receive-pack): the repository is read-only (FORBIDDEN)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
}


def _read_only(project_id: str) -> ApiError:
    return ApiError(
        "FORBIDDEN",
        f"the repository of project {project_id} is read-only over HTTP: clone and fetch"
        " only, no push (the operator writes it; publish it with spec.publish)",
        {"service": http_backend.RECEIVE_PACK},
    )


async def _backend(request: Request, repo: Path, path: str, with_body: bool) -> Response:
    headers = request.headers
    cgi = http_backend.CgiRequest(
        method=request.method,
        path=path,
        query=request.url.query,
        content_type=headers.get("content-type", ""),
        content_length=headers.get("content-length"),
        content_encoding=headers.get("content-encoding", ""),
        git_protocol=headers.get("git-protocol", ""),
        remote_addr=authn.client_ip(request.scope),
    )
    answer = await http_backend.serve(repo, cgi, request.stream() if with_body else None)
    return StreamingResponse(answer.body, status_code=answer.status, headers=dict(answer.headers))


@router.get(
    "/projects/{projectId}/git/info/refs",
    summary="git smart HTTP: the refs (the first request of git clone / fetch)",
    description="Clone with `git clone <cloneUrl>` (the project's cloneUrl), the API key"
    " as the password (any user name) or `-c http.extraHeader='Authorization: Bearer"
    " pzm_...'`. Branch main and a tag run-<runId> per succeeded run. Read-only:"
    " service=git-receive-pack (a push) answers 403.",
    operation_id="gitInfoRefs",
    response_class=Response,
    responses={
        200: {"description": "The ref advertisement", "content": {ADVERTISEMENT: _BINARY}},
        403: _READ_ONLY,
    },
)
async def info_refs(
    projectId: str,
    request: Request,
    caller: GitCaller,
    settings: Settings,
    service: Annotated[
        str | None, Query(max_length=40, description="git-upload-pack (the only one served)")
    ] = None,
) -> Response:
    repo = await files.repository(caller.tenant, projectId, settings.data_dir)
    if service == http_backend.RECEIVE_PACK:
        raise _read_only(projectId)
    if service != http_backend.UPLOAD_PACK:
        raise invalid(
            "only git's smart HTTP protocol is served: service=git-upload-pack", "service"
        )
    return await _backend(request, repo, "info/refs", with_body=False)


@router.post(
    "/projects/{projectId}/git/git-upload-pack",
    summary="git smart HTTP: send the objects a clone or fetch wants",
    operation_id="gitUploadPack",
    response_class=Response,
    openapi_extra={
        "requestBody": {"required": True, "content": {REQUEST: _BINARY}},
    },
    responses={200: {"description": "The pack", "content": {RESULT: _BINARY}}},
)
async def upload_pack(
    projectId: str, request: Request, caller: GitCaller, settings: Settings
) -> Response:
    repo = await files.repository(caller.tenant, projectId, settings.data_dir)
    if request.headers.get("content-type") != REQUEST:
        raise invalid(f"Content-Type must be {REQUEST}", "Content-Type")
    return await _backend(request, repo, http_backend.UPLOAD_PACK, with_body=True)


@router.post(
    "/projects/{projectId}/git/git-receive-pack", include_in_schema=False, response_model=None
)
async def receive_pack(projectId: str, caller: GitCaller, settings: Settings) -> Response:
    await files.repository(caller.tenant, projectId, settings.data_dir)
    raise _read_only(projectId)
