"""Preview deployments: create (202), status, teardown. The records are kept by
deployment_store, the Kubernetes objects made by deploy."""

from __future__ import annotations

from prazium_api.cluster import lookup
from prazium_api.contract.errors import ApiError, invalid
from prazium_api.contract.requests import CreateDeployment
from prazium_api.contract.responses import (
    Deployment,
    DeploymentCreated,
    DeploymentState,
    DeploymentStopped,
    Ok,
    ok,
)
from prazium_api.previews import deploy, records
from prazium_api.previews.records import DeploymentRecord
from prazium_api.routers.deps import Caller, Db, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_kit import ids, paths
from prazium_kit.timefmt import iso_z

router = ApiRouter(tags=["Deployment"])


@router.post(
    "/projects/{projectId}/deploy",
    status_code=202,
    summary="Deploy a preview",
    operation_id="createDeployment",
    response_model=Ok[DeploymentCreated],
)
def create_deployment(
    projectId: str, body: CreateDeployment, caller: Caller, settings: Settings, database: Db
) -> Ok[DeploymentCreated]:
    if body.provider not in settings.deploy_providers:
        configured = ", ".join(settings.deploy_providers) or "none"
        raise invalid(
            f"provider {body.provider!r} is not configured here; configured: {configured}",
            "provider",
            configured=settings.deploy_providers,
        )
    project, run, commit = lookup.merged_run(caller.tenant, projectId, body.runId)
    name = project.name
    bare = paths.repo_path(settings.data_dir, caller.tenant, name)
    deployment_id = deploy.new_deployment_id()
    objects = deploy.manifests(settings, caller.tenant, deployment_id, project, bare, commit)
    records.insert(
        database,
        deployment_id,
        caller.tenant,
        name,
        run.name,
        body.provider,
        deploy.url(settings, caller.tenant, deploy.object_name(deployment_id)),
    )
    try:
        node_port = deploy.create(caller.tenant, objects)
    except ApiError:
        records.mark_failed(database, deployment_id, "could not create the Kubernetes objects")
        raise
    if deploy.url_needs_node_port(settings):
        # The node port is chosen by the apiserver when the Service is created.
        preview_url = deploy.url(
            settings, caller.tenant, deploy.object_name(deployment_id), node_port
        )
        records.set_url(database, deployment_id, preview_url)
    return ok(
        DeploymentCreated(deploymentId=deployment_id, status="deploying", provider=body.provider)
    )


def _record(database: Db, caller: Caller, project_id: str, deployment_id: str) -> DeploymentRecord:
    name = lookup.project(caller.tenant, project_id).name
    record = records.find(database, caller.tenant, name, deployment_id)
    if record is None:
        raise ApiError("NOT_FOUND", f"deployment {deployment_id} not found")
    return record


@router.get(
    "/projects/{projectId}/deployments/{deploymentId}",
    summary="Deployment status",
    operation_id="getDeployment",
    response_model=Ok[Deployment],
)
def get_deployment(
    projectId: str, deploymentId: str, caller: Caller, database: Db
) -> Ok[Deployment]:
    record = _record(database, caller, projectId, deploymentId)
    status: DeploymentState = record.status
    if status not in ("stopped",):
        observed = deploy.observed_status(caller.tenant, deploy.object_name(deploymentId))
        status = observed or "failed"
        if status != record.status:
            records.set_status(database, deploymentId, status)
    return ok(
        Deployment(
            id=deploymentId,
            status=status,
            provider=record.provider,
            url=record.url if status == "live" else None,
            runId=ids.run_id(record.run),
            createdAt=iso_z(record.created_at),
        )
    )


@router.delete(
    "/projects/{projectId}/deployments/{deploymentId}",
    summary="Tear a preview down",
    operation_id="deleteDeployment",
    response_model=Ok[DeploymentStopped],
)
def delete_deployment(
    projectId: str, deploymentId: str, caller: Caller, database: Db
) -> Ok[DeploymentStopped]:
    _record(database, caller, projectId, deploymentId)
    deploy.teardown(caller.tenant, deploy.object_name(deploymentId))
    records.set_status(database, deploymentId, "stopped")
    return ok(DeploymentStopped(id=deploymentId, status="stopped"))
