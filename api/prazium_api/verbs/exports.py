"""Exports of a run's merged tree (zip, tar.gz): start one (the archive is built in
the background), its status, its file once completed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prazium_api.cluster import lookup, naming
from prazium_api.contract.errors import ApiError, conflict
from prazium_api.contract.responses import (
    ExportCreated,
    ExportFormat,
    ExportListItem,
    ExportStatus,
    Page,
    Pagination,
)
from prazium_api.db import Database
from prazium_api.exports import builder, records
from prazium_api.exports.records import ExportRecord
from prazium_api.git import repo
from prazium_api.settings import ApiSettings
from prazium_kit import ids, paths
from prazium_kit.timefmt import iso_z


@dataclass(frozen=True)
class ExportFile:
    path: Path
    media_type: str
    file_name: str


def create(
    tenant: str,
    project_id: str,
    run_id: str,
    fmt: ExportFormat,
    settings: ApiSettings,
    database: Database,
) -> ExportCreated:
    """Start exporting a run whose work is merged (409 otherwise)."""
    project, run, commit = lookup.merged_run(tenant, project_id, run_id)
    bare = paths.repo_path(settings.data_dir, tenant, project.name)
    commit = repo.resolve(bare, commit)
    base = f"{naming.slug(project.spec.display_name, 60)}-run-{run.status.run_number or 0}"
    export_id = builder.start(
        database,
        settings.data_dir,
        tenant,
        project.name,
        run.name,
        fmt=fmt,
        commit=commit,
        base_name=base,
        ttl_seconds=settings.export_ttl_seconds,
    )
    return ExportCreated(id=export_id, status="processing", format=fmt)


def status(
    tenant: str, project_id: str, export_id: str, settings: ApiSettings, database: Database
) -> ExportStatus:
    record = _record(tenant, project_id, export_id, settings, database)
    return _view(project_id, record)


def page(
    tenant: str,
    project_id: str,
    paging: Page,
    run_id: str | None,
    settings: ApiSettings,
    database: Database,
) -> tuple[list[ExportListItem], Pagination]:
    """A project's exports that have not expired, newest first (optionally one run's),
    each as its status answers it plus the run and when it was made."""
    project = lookup.project(tenant, project_id)
    run = None if run_id is None else lookup.run(tenant, project_id, run_id, database).name
    stale = settings.export_stale_seconds
    found, pagination = records.page(database, tenant, project.name, paging, stale, run)
    items = [
        ExportListItem(
            **_view(project_id, record).model_dump(exclude_unset=True),
            runId=ids.run_id(record.run),
            createdAt=iso_z(record.created_at),
        )
        for record in found
    ]
    return items, pagination


def _view(project_id: str, record: ExportRecord) -> ExportStatus:
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


def download(
    tenant: str, project_id: str, export_id: str, settings: ApiSettings, database: Database
) -> ExportFile:
    """The completed export's file (409 while it is processing or once it failed)."""
    record = _record(tenant, project_id, export_id, settings, database)
    if record.status != "completed":
        raise conflict(
            f"export {export_id} is {record.status}, not completed", {"status": record.status}
        )
    path = Path(record.file_path)
    if not path.is_file():
        raise ApiError("NOT_FOUND", f"export {export_id} not found")
    return ExportFile(path, records.MEDIA_TYPES[record.format], record.file_name)


def _record(
    tenant: str, project_id: str, export_id: str, settings: ApiSettings, database: Database
) -> ExportRecord:
    name = lookup.project(tenant, project_id).name
    return records.get(database, tenant, name, export_id, settings.export_stale_seconds)
