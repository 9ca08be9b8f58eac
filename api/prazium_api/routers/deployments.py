"""Preview deployments: create (202), status, teardown."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from prazium_api import db, deploy, lookup
from prazium_api.deps import Caller, ok
from prazium_api.errors import ApiError, invalid
from prazium_api.models import CreateDeployment
from prazium_api.routers.exports import merged_commit
from prazium_api.settings import get_api_settings
from prazium_kit import paths
from prazium_kit.timefmt import iso_z

router = APIRouter(tags=["deployments"])


@router.post("/projects/{projectId}/deploy", status_code=202, summary="Deploy a preview")
def create_deployment(projectId: str, body: CreateDeployment, caller: Caller) -> dict[str, Any]:
    settings = get_api_settings()
    if body.provider not in settings.deploy_providers:
        configured = ", ".join(settings.deploy_providers) or "none"
        raise invalid(f"provider {body.provider!r} is not configured here; configured:"
                      f" {configured}", "provider", configured=settings.deploy_providers)
    project, run, commit = merged_commit(caller, projectId, body.runId)
    name = project["metadata"]["name"]
    bare = paths.repo_path(settings.data_dir, caller.tenant, name)
    deployment_id = deploy.new_deployment_id()
    objects = deploy.manifests(settings, caller.tenant, deployment_id, project, bare, commit)
    with db.connection() as conn:
        conn.execute(
            "INSERT INTO deployments (id, namespace, project, run, provider, status, url)"
            " VALUES (%s, %s, %s, %s, %s, 'deploying', %s)",
            (deployment_id, caller.tenant, name, run["metadata"]["name"], body.provider,
             deploy.url(settings, caller.tenant, deploy.object_name(deployment_id))))
    try:
        deploy.create(caller.tenant, objects)
    except ApiError:
        with db.connection() as conn:
            conn.execute("UPDATE deployments SET status = 'failed', message = %s,"
                         " updated_at = now() WHERE id = %s",
                         ("could not create the Kubernetes objects", deployment_id))
        raise
    return ok({"deploymentId": deployment_id, "status": "deploying", "provider": body.provider})


def _record(caller: Caller, project_id: str, deployment_id: str) -> dict[str, Any]:
    name = lookup.project(caller.tenant, project_id)["metadata"]["name"]
    with db.connection() as conn:
        cur = conn.execute(
            "SELECT id, provider, status, url, run, created_at FROM deployments"
            " WHERE id = %s AND namespace = %s AND project = %s",
            (deployment_id, caller.tenant, name))
        row = cur.fetchone()
    if row is None:
        raise ApiError("NOT_FOUND", f"deployment {deployment_id} not found")
    return dict(zip(("id", "provider", "status", "url", "run", "created_at"), row, strict=True))


@router.get("/projects/{projectId}/deployments/{deploymentId}", summary="Deployment status")
def get_deployment(projectId: str, deploymentId: str, caller: Caller) -> dict[str, Any]:
    record = _record(caller, projectId, deploymentId)
    status = record["status"]
    if status not in ("stopped",):
        observed = deploy.observed_status(caller.tenant, deploy.object_name(deploymentId))
        status = observed or "failed"
        if status != record["status"]:
            with db.connection() as conn:
                conn.execute("UPDATE deployments SET status = %s, updated_at = now()"
                             " WHERE id = %s", (status, deploymentId))
    return ok({"id": deploymentId, "status": status, "provider": record["provider"],
               "url": record["url"] if status == "live" else None,
               "runId": f"run_{record['run']}", "createdAt": iso_z(record["created_at"])})


@router.delete("/projects/{projectId}/deployments/{deploymentId}",
               summary="Tear a preview down")
def delete_deployment(projectId: str, deploymentId: str, caller: Caller) -> dict[str, Any]:
    _record(caller, projectId, deploymentId)
    deploy.teardown(caller.tenant, deploy.object_name(deploymentId))
    with db.connection() as conn:
        conn.execute("UPDATE deployments SET status = 'stopped', updated_at = now()"
                     " WHERE id = %s", (deploymentId,))
    return ok({"id": deploymentId, "status": "stopped"})
