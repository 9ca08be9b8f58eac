"""Export a run's merged tree as zip or tar.gz: create (202), list, status, download
(verbs/exports.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import FileResponse

from prazium_api.contract.requests import CreateExport
from prazium_api.contract.responses import (
    ExportCreated,
    ExportListItem,
    ExportStatus,
    Ok,
    OkPage,
    ok,
    ok_page,
)
from prazium_api.routers.deps import Caller, Db, Paging, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import exports

router = ApiRouter(tags=["Export"])
_ARCHIVE = {"schema": {"type": "string", "format": "binary"}}
RunFilter = Annotated[
    str | None, Query(alias="runId", max_length=200, description="Only this run's exports")
]


@router.post(
    "/projects/{projectId}/export",
    status_code=202,
    summary="Export a run's code",
    operation_id="createExport",
    response_model=Ok[ExportCreated],
)
def create_export(
    projectId: str, body: CreateExport, caller: Caller, settings: Settings, database: Db
) -> Ok[ExportCreated]:
    return ok(exports.create(caller.tenant, projectId, body.runId, body.format, settings, database))


@router.get(
    "/projects/{projectId}/exports",
    summary="List a project's exports",
    description="Extension (not in the contract). The project's exports that have not"
    " expired, newest first, each as GET .../exports/{exportId} answers it plus runId and"
    " createdAt; paginated like the contract's lists. 404 for an unknown project or runId.",
    operation_id="listExports",
    response_model=OkPage[ExportListItem],
)
def list_exports(
    projectId: str,
    caller: Caller,
    paging: Paging,
    settings: Settings,
    database: Db,
    run_id: RunFilter = None,
) -> OkPage[ExportListItem]:
    found, pagination = exports.page(caller.tenant, projectId, paging, run_id, settings, database)
    return ok_page(ExportListItem, found, pagination)


@router.get(
    "/projects/{projectId}/exports/{exportId}",
    summary="Get an export's status",
    operation_id="getExport",
    response_model=Ok[ExportStatus],
)
def get_export(
    projectId: str, exportId: str, caller: Caller, settings: Settings, database: Db
) -> Ok[ExportStatus]:
    return ok(exports.status(caller.tenant, projectId, exportId, settings, database))


@router.get(
    "/projects/{projectId}/exports/{exportId}/download",
    summary="Download a completed export",
    operation_id="downloadExport",
    response_class=FileResponse,
    response_model=None,
    responses={
        200: {
            "description": "The archive (Content-Disposition: attachment; filename=...)",
            "content": {"application/zip": _ARCHIVE, "application/gzip": _ARCHIVE},
        }
    },
)
def download_export(
    projectId: str, exportId: str, caller: Caller, settings: Settings, database: Db
) -> FileResponse:
    found = exports.download(caller.tenant, projectId, exportId, settings, database)
    return FileResponse(found.path, media_type=found.media_type, filename=found.file_name)
