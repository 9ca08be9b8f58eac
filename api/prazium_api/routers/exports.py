"""Export a run's merged tree as zip or tar.gz: create (202), status, download."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

from prazium_api.cluster import lookup, naming
from prazium_api.contract.errors import ApiError, conflict
from prazium_api.contract.requests import CreateExport
from prazium_api.contract.responses import ExportCreated, ExportStatus, Ok, ok
from prazium_api.exports import records
from prazium_api.git import repo
from prazium_api.routers.deps import Caller, Db, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_kit import paths
from prazium_kit.timefmt import iso_z

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
) -> Ok[ExportCreated]:
    project, run, commit = lookup.merged_run(caller.tenant, projectId, body.runId)
    bare = paths.repo_path(settings.data_dir, caller.tenant, project.name)
    commit = repo.resolve(bare, commit)
    base = f"{naming.slug(project.spec.display_name, 60)}-run-{run.status.run_number or 0}"
    export_id = records.start(
        database,
        settings.data_dir,
        caller.tenant,
        project.name,
        run.name,
        fmt=body.format,
        commit=commit,
        base_name=base,
        ttl_seconds=settings.export_ttl_seconds,
    )
    return ok(ExportCreated(id=export_id, status="processing", format=body.format))


@router.get(
    "/projects/{projectId}/exports/{exportId}",
    summary="Get an export's status",
    operation_id="getExport",
    response_model=Ok[ExportStatus],
)
def get_export(
    projectId: str, exportId: str, caller: Caller, settings: Settings, database: Db
) -> Ok[ExportStatus]:
    name = lookup.project(caller.tenant, projectId).name
    record = records.get(database, caller.tenant, name, exportId, settings.export_stale_seconds)
    return ok(_status(record, projectId))


def _status(record: records.ExportRecord, project_id: str) -> ExportStatus:
    if record.status == "completed":
        return ExportStatus(
            id=record.id,
            status=record.status,
            format=record.format,
            sizeBytes=record.size_bytes,
            # Relative to the API's base URL (…/v1), as in the contract.
            downloadUrl=f"/projects/{project_id}/exports/{record.id}/download",
            expiresAt=iso_z(record.expires_at),
        )
    if record.status == "failed":
        return ExportStatus(
            id=record.id,
            status=record.status,
            format=record.format,
            error=record.error or records.BUILD_FAILED,
        )
    return ExportStatus(id=record.id, status=record.status, format=record.format)


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
    name = lookup.project(caller.tenant, projectId).name
    record = records.get(database, caller.tenant, name, exportId, settings.export_stale_seconds)
    if record.status != "completed":
        raise conflict(
            f"export {exportId} is {record.status}, not completed", {"status": record.status}
        )
    path = Path(record.file_path)
    if not path.is_file():
        raise ApiError("NOT_FOUND", f"export {exportId} not found")
    return FileResponse(
        path, media_type=records.MEDIA_TYPES[record.format], filename=record.file_name
    )
