"""Preview deployments: create (a merged run's app on Kubernetes; the run's existing
preview when it has one), list a project's, status (followed from its Deployment),
stop. The records are kept by previews/records.py, the Kubernetes objects made by
previews/deploy.py; previews/expiry.py stops expired ones."""

from __future__ import annotations

import datetime as dt

from prazium_api.cluster import lookup
from prazium_api.contract.errors import ApiError, invalid
from prazium_api.contract.responses import (
    Deployment,
    DeploymentCreated,
    DeploymentState,
    DeploymentStopped,
    Page,
    Pagination,
)
from prazium_api.db import Database
from prazium_api.previews import deploy, records
from prazium_api.previews.records import DeploymentRecord, NewDeployment
from prazium_api.settings import ApiSettings
from prazium_kit import ids, paths
from prazium_kit.timefmt import iso_z

STOPPED_BY_REQUEST = "stopped by request"
REPLACED_FAILED = "failed; replaced by a new preview of the same run"
# Longer than creating a preview's objects takes (a few apiserver calls).
CREATING_GRACE = dt.timedelta(seconds=60)


def create(
    tenant: str,
    project_id: str,
    run_id: str,
    provider: str,
    settings: ApiSettings,
    database: Database,
) -> DeploymentCreated:
    """Deploy a run whose work is merged with a configured provider (400 otherwise).
    A run has one preview per provider: while it is deploying or live, deploying
    again answers it (its data kept); a failed one is stopped and replaced. The
    record comes first, so a failed creation is recorded as failed."""
    if provider not in settings.deploy_providers:
        configured = ", ".join(settings.deploy_providers) or "none"
        raise invalid(
            f"provider {provider!r} is not configured here; configured: {configured}",
            "provider",
            configured=settings.deploy_providers,
        )
    project, run, commit = lookup.merged_run(tenant, project_id, run_id)
    existing = _current(tenant, project.name, run.name, provider, settings, database)
    if existing is not None:
        return existing
    bare = paths.repo_path(settings.data_dir, tenant, project.name)
    deployment_id = deploy.new_deployment_id()
    name = deploy.object_name(deployment_id)
    objects = deploy.manifests(settings, tenant, deployment_id, project, bare, commit)
    url = deploy.url(settings, tenant, name)
    new = NewDeployment(
        deployment_id, tenant, project.name, run.name, provider, url, settings.deploy_ttl_seconds
    )
    if not records.insert(database, new):
        # Another request made the run's preview meanwhile: that one is the answer.
        won = records.unstopped_for_run(database, tenant, project.name, run.name, provider)
        if won is None:  # and it was stopped at once; rare enough to let the client retry
            raise ApiError("CONFLICT", f"a preview of run {run_id} was just made and stopped")
        return DeploymentCreated(deploymentId=won.id, status=won.status, provider=provider)
    try:
        node_port = deploy.create(tenant, objects)
    except ApiError:
        records.mark_failed(database, deployment_id, "could not create the Kubernetes objects")
        raise
    if deploy.url_needs_node_port(settings):
        # The node port is chosen by the apiserver when the Service is created.
        records.set_url(database, deployment_id, deploy.url(settings, tenant, name, node_port))
    return DeploymentCreated(deploymentId=deployment_id, status="deploying", provider=provider)


def _current(
    tenant: str,
    project: str,
    run: str,
    provider: str,
    settings: ApiSettings,
    database: Database,
) -> DeploymentCreated | None:
    """The run's preview to answer again (its state as its Deployment says now), or
    None when it has none to keep (none, or a failed one, which is stopped here)."""
    record = records.unstopped_for_run(database, tenant, project, run, provider)
    if record is None:
        return None
    observed = deploy.observed_status(tenant, deploy.object_name(record.id))
    status = _refresh(record, observed, database)
    if status != "failed":
        return DeploymentCreated(deploymentId=record.id, status=status, provider=provider)
    _stop(settings, database, record, REPLACED_FAILED)
    return None


def page(
    tenant: str,
    project_id: str,
    paging: Page,
    run_id: str | None,
    status: DeploymentState | None,
    database: Database,
) -> tuple[list[Deployment], Pagination]:
    """A project's previews newest first (optionally one run's, or in one state as
    recorded), each in its state as its Deployment says now (one list call)."""
    project = lookup.project(tenant, project_id)
    run = None if run_id is None else lookup.run(tenant, project_id, run_id, database).name
    found, pagination = records.page(database, tenant, project.name, paging, run=run, status=status)
    observed = (
        deploy.observed_statuses(tenant, project.name)
        if any(r.status != "stopped" for r in found)
        else {}
    )
    shown = []
    for record in found:
        now = record.status
        if now != "stopped":
            now = _refresh(record, observed.get(deploy.object_name(record.id)), database)
        shown.append(_view(record, now))
    return shown, pagination


def get(tenant: str, project_id: str, deployment_id: str, database: Database) -> Deployment:
    """The preview's state as its Deployment tells it now (recorded when it changed);
    a stopped preview stays stopped, one whose Deployment is gone is failed."""
    record = _record(tenant, project_id, deployment_id, database)
    status: DeploymentState = record.status
    if status != "stopped":
        observed = deploy.observed_status(tenant, deploy.object_name(deployment_id))
        status = _refresh(record, observed, database)
    return _view(record, status)


def delete(
    tenant: str, project_id: str, deployment_id: str, settings: ApiSettings, database: Database
) -> DeploymentStopped:
    """Stop the preview: its Deployment, Service, files and data removed, the record
    stopped. Stopping a stopped preview answers the same (and finishes a stop that
    was cut short)."""
    record = _record(tenant, project_id, deployment_id, database)
    _stop(settings, database, record, STOPPED_BY_REQUEST)
    return DeploymentStopped(id=deployment_id, status="stopped")


def _stop(
    settings: ApiSettings, database: Database, record: DeploymentRecord, message: str
) -> None:
    """Claim the stop, remove the objects, stamp it. Should the removal fail (500), the
    record stays stopped without stopped_at and the sweep removes them later."""
    if record.status != "stopped":
        records.claim_stop(database, record.id, message)
    if record.stopped_at is None:
        deploy.remove(settings, record.namespace, record.id)
        records.mark_removed(database, record.id)


def _refresh(
    record: DeploymentRecord, observed: DeploymentState | None, database: Database
) -> DeploymentState:
    """The state an unstopped preview is in, recorded when it changed: its
    Deployment's, or failed once the Deployment is gone - unless the preview is
    so new that the request making it may still be creating its objects."""
    if observed is None and record.status == "deploying":
        age = dt.datetime.now(dt.UTC) - record.created_at
        if age < CREATING_GRACE:
            return "deploying"
    status = observed or "failed"
    if status != record.status:
        records.set_status(database, record.id, status)
    return status


def _view(record: DeploymentRecord, status: DeploymentState) -> Deployment:
    return Deployment(
        id=record.id,
        status=status,
        provider=record.provider,
        url=record.url if status == "live" else None,
        runId=ids.run_id(record.run),
        createdAt=iso_z(record.created_at),
        expiresAt=iso_z(record.expires_at),
        stoppedAt=None if record.stopped_at is None else iso_z(record.stopped_at),
        message=record.message,
    )


def _record(
    tenant: str, project_id: str, deployment_id: str, database: Database
) -> DeploymentRecord:
    name = lookup.project(tenant, project_id).name
    record = records.find(database, tenant, name, deployment_id)
    if record is None:
        raise ApiError("NOT_FOUND", f"deployment {deployment_id} not found")
    return record
