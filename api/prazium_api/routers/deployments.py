"""Preview deployments: create (202), list, status, stop (verbs/deployments.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from prazium_api.contract.requests import CreateDeployment
from prazium_api.contract.responses import (
    Deployment,
    DeploymentCreated,
    DeploymentState,
    DeploymentStopped,
    Ok,
    OkPage,
    ok,
    ok_page,
)
from prazium_api.routers.deps import Caller, Db, Paging, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import deployments

router = ApiRouter(tags=["Deployment"])
RunFilter = Annotated[
    str | None, Query(alias="runId", max_length=200, description="Only this run's previews")
]
StatusFilter = Annotated[
    DeploymentState | None, Query(description="Filter by status (as last recorded)")
]


@router.post(
    "/projects/{projectId}/deploy",
    status_code=202,
    summary="Deploy a preview",
    description="A run has one preview per provider: while it is deploying or live,"
    " deploying the run again answers that preview (same deploymentId, its current"
    " status, its data kept); a failed one is stopped and replaced by a new one.",
    operation_id="createDeployment",
    response_model=Ok[DeploymentCreated],
)
def create_deployment(
    projectId: str, body: CreateDeployment, caller: Caller, settings: Settings, database: Db
) -> Ok[DeploymentCreated]:
    return ok(
        deployments.create(caller.tenant, projectId, body.runId, body.provider, settings, database)
    )


@router.get(
    "/projects/{projectId}/deployments",
    summary="List a project's previews",
    description="Extension (not in the contract). The project's previews newest first,"
    " stopped ones included, each in its state as its Deployment says now; paginated"
    " like the contract's lists. 404 for an unknown project or runId.",
    operation_id="listDeployments",
    response_model=OkPage[Deployment],
)
def list_deployments(
    projectId: str,
    caller: Caller,
    paging: Paging,
    database: Db,
    run_id: RunFilter = None,
    status: StatusFilter = None,
) -> OkPage[Deployment]:
    found, pagination = deployments.page(caller.tenant, projectId, paging, run_id, status, database)
    return ok_page(Deployment, found, pagination)


@router.get(
    "/projects/{projectId}/deployments/{deploymentId}",
    summary="Deployment status",
    operation_id="getDeployment",
    response_model=Ok[Deployment],
)
def get_deployment(
    projectId: str, deploymentId: str, caller: Caller, database: Db
) -> Ok[Deployment]:
    return ok(deployments.get(caller.tenant, projectId, deploymentId, database))


@router.delete(
    "/projects/{projectId}/deployments/{deploymentId}",
    summary="Stop a preview",
    description="Extension (not in the contract). Removes the preview's Deployment,"
    " Service, files and data and marks it stopped; stopping a stopped preview answers"
    " the same. Previews also stop by themselves at expiresAt.",
    operation_id="deleteDeployment",
    response_model=Ok[DeploymentStopped],
)
def delete_deployment(
    projectId: str, deploymentId: str, caller: Caller, settings: Settings, database: Db
) -> Ok[DeploymentStopped]:
    return ok(deployments.delete(caller.tenant, projectId, deploymentId, settings, database))
