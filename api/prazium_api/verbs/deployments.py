"""Preview deployments: create (a merged run's app on Kubernetes), status (followed
from its Deployment), teardown. The records are kept by previews/records.py, the
Kubernetes objects made by previews/deploy.py."""

from __future__ import annotations

from prazium_api.cluster import lookup
from prazium_api.contract.errors import ApiError, invalid
from prazium_api.contract.responses import (
    Deployment,
    DeploymentCreated,
    DeploymentState,
    DeploymentStopped,
)
from prazium_api.db import Database
from prazium_api.previews import deploy, records
from prazium_api.previews.records import DeploymentRecord
from prazium_api.settings import ApiSettings
from prazium_kit import ids, paths
from prazium_kit.timefmt import iso_z


def create(
    tenant: str,
    project_id: str,
    run_id: str,
    provider: str,
    settings: ApiSettings,
    database: Database,
) -> DeploymentCreated:
    """Deploy a run whose work is merged with a configured provider (400 otherwise);
    the record first, so a failed creation is recorded as failed."""
    if provider not in settings.deploy_providers:
        configured = ", ".join(settings.deploy_providers) or "none"
        raise invalid(
            f"provider {provider!r} is not configured here; configured: {configured}",
            "provider",
            configured=settings.deploy_providers,
        )
    project, run, commit = lookup.merged_run(tenant, project_id, run_id)
    bare = paths.repo_path(settings.data_dir, tenant, project.name)
    deployment_id = deploy.new_deployment_id()
    name = deploy.object_name(deployment_id)
    objects = deploy.manifests(settings, tenant, deployment_id, project, bare, commit)
    url = deploy.url(settings, tenant, name)
    records.insert(database, deployment_id, tenant, project.name, run.name, provider, url)
    try:
        node_port = deploy.create(tenant, objects)
    except ApiError:
        records.mark_failed(database, deployment_id, "could not create the Kubernetes objects")
        raise
    if deploy.url_needs_node_port(settings):
        # The node port is chosen by the apiserver when the Service is created.
        records.set_url(database, deployment_id, deploy.url(settings, tenant, name, node_port))
    return DeploymentCreated(deploymentId=deployment_id, status="deploying", provider=provider)


def get(tenant: str, project_id: str, deployment_id: str, database: Database) -> Deployment:
    """The preview's state as its Deployment tells it now (recorded when it changed);
    a stopped preview stays stopped, one whose Deployment is gone is failed."""
    record = _record(tenant, project_id, deployment_id, database)
    status: DeploymentState = record.status
    if status != "stopped":
        observed = deploy.observed_status(tenant, deploy.object_name(deployment_id))
        status = observed or "failed"
        if status != record.status:
            records.set_status(database, deployment_id, status)
    return Deployment(
        id=deployment_id,
        status=status,
        provider=record.provider,
        url=record.url if status == "live" else None,
        runId=ids.run_id(record.run),
        createdAt=iso_z(record.created_at),
    )


def delete(
    tenant: str, project_id: str, deployment_id: str, database: Database
) -> DeploymentStopped:
    _record(tenant, project_id, deployment_id, database)
    deploy.teardown(tenant, deploy.object_name(deployment_id))
    records.set_status(database, deployment_id, "stopped")
    return DeploymentStopped(id=deployment_id, status="stopped")


def _record(
    tenant: str, project_id: str, deployment_id: str, database: Database
) -> DeploymentRecord:
    name = lookup.project(tenant, project_id).name
    record = records.find(database, tenant, name, deployment_id)
    if record is None:
        raise ApiError("NOT_FOUND", f"deployment {deployment_id} not found")
    return record
