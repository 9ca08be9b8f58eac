"""Export a run's merged tree as zip or tar.gz: create (202), status, download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from prazium_api import exports, lookup, naming, repo
from prazium_api.deps import Caller, ok
from prazium_api.errors import ApiError, conflict
from prazium_api.models import CreateExport
from prazium_api.settings import get_api_settings
from prazium_kit import paths

router = APIRouter(tags=["exports"])


def merged_commit(caller: Caller, project_id: str, run_id: str) -> tuple[dict[str, Any],
                                                                          dict[str, Any], str]:
    """(project, run, commit) for a run whose work is merged; 409 otherwise."""
    project = lookup.project(caller.tenant, project_id)
    run = lookup.run(caller.tenant, project_id, run_id)
    commit = run.get("status", {}).get("mergedCommit")
    if not commit:
        phase = run.get("status", {}).get("phase") or "pending"
        raise conflict(f"run {run_id} has no merged commit (status {phase})", {"status": phase})
    return project, run, str(commit)


@router.post("/projects/{projectId}/export", status_code=202, summary="Export a run's code")
def create_export(projectId: str, body: CreateExport, caller: Caller) -> dict[str, Any]:
    project, run, commit = merged_commit(caller, projectId, body.runId)
    settings = get_api_settings()
    name = project["metadata"]["name"]
    bare = paths.repo_path(settings.data_dir, caller.tenant, name)
    commit = repo.resolve(bare, commit)
    base = (f"{naming.slug(project['spec'].get('displayName', name), 60)}"
            f"-run-{run.get('status', {}).get('runNumber') or 0}")
    return ok(exports.start(settings.data_dir, caller.tenant, name, run["metadata"]["name"],
                            body.format, commit, base, settings.export_ttl_seconds))


@router.get("/projects/{projectId}/exports/{exportId}", summary="Get an export's status")
def get_export(projectId: str, exportId: str, caller: Caller) -> dict[str, Any]:
    name = lookup.project(caller.tenant, projectId)["metadata"]["name"]
    record = exports.get(caller.tenant, name, exportId,
                         get_api_settings().export_stale_seconds)
    return ok(exports.view(record, projectId))


@router.get("/projects/{projectId}/exports/{exportId}/download",
            summary="Download a completed export", response_class=FileResponse,
            responses={200: {"content": {"application/zip": {}, "application/gzip": {}}}})
def download_export(projectId: str, exportId: str, caller: Caller) -> FileResponse:
    name = lookup.project(caller.tenant, projectId)["metadata"]["name"]
    record = exports.get(caller.tenant, name, exportId,
                         get_api_settings().export_stale_seconds)
    if record["status"] != "completed":
        raise conflict(f"export {exportId} is {record['status']}, not completed",
                       {"status": record["status"]})
    path = Path(record["file_path"])
    if not path.is_file():
        raise ApiError("NOT_FOUND", f"export {exportId} not found")
    return FileResponse(path, media_type=exports.MEDIA_TYPES[record["format"]],
                        filename=record["file_name"])
