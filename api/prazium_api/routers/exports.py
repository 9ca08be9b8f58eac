"""Export a run's merged tree as zip or tar.gz: create (202), status, download."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

from prazium_api.cluster import lookup, naming
from prazium_api.contract.errors import ApiError, conflict
from prazium_api.contract.requests import CreateExport
from prazium_api.contract.responses import ExportCreated, ExportStatus, Ok
from prazium_api.exports import records
from prazium_api.git import repo
from prazium_api.routers.deps import Caller, Db, Settings, ok
from prazium_api.routers.routing import ApiRouter
from prazium_kit import paths
from prazium_kit.types import Obj

router = ApiRouter(tags=["Export"])
_ARCHIVE = {"schema": {"type": "string", "format": "binary"}}


@router.post(
    "/projects/{projectId}/export",
    status_code=202,
    summary="Export a run's code",
    operation_id="createExport",
    response_model=Ok[ExportCreated],
)
def create_export(
    projectId: str, body: CreateExport, caller: Caller, settings: Settings, database: Db
) -> Obj:
    project, run, commit = lookup.merged_run(caller.tenant, projectId, body.runId)
    name = project["metadata"]["name"]
    bare = paths.repo_path(settings.data_dir, caller.tenant, name)
    commit = repo.resolve(bare, commit)
    base = (
        f"{naming.slug(project['spec'].get('displayName', name), 60)}"
        f"-run-{run.get('status', {}).get('runNumber') or 0}"
    )
    return ok(
        records.start(
            database,
            settings.data_dir,
            caller.tenant,
            name,
            run["metadata"]["name"],
            fmt=body.format,
            commit=commit,
            base_name=base,
            ttl_seconds=settings.export_ttl_seconds,
        )
    )


@router.get(
    "/projects/{projectId}/exports/{exportId}",
    summary="Get an export's status",
    operation_id="getExport",
    response_model=Ok[ExportStatus],
)
def get_export(
    projectId: str, exportId: str, caller: Caller, settings: Settings, database: Db
) -> Obj:
    name = lookup.project(caller.tenant, projectId)["metadata"]["name"]
    record = records.get(database, caller.tenant, name, exportId, settings.export_stale_seconds)
    return ok(records.view(record, projectId))


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
    name = lookup.project(caller.tenant, projectId)["metadata"]["name"]
    record = records.get(database, caller.tenant, name, exportId, settings.export_stale_seconds)
    if record["status"] != "completed":
        raise conflict(
            f"export {exportId} is {record['status']}, not completed", {"status": record["status"]}
        )
    path = Path(record["file_path"])
    if not path.is_file():
        raise ApiError("NOT_FOUND", f"export {exportId} not found")
    return FileResponse(
        path, media_type=records.MEDIA_TYPES[record["format"]], filename=record["file_name"]
    )
