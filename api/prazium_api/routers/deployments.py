"""Preview deployments: create (202), status, teardown (verbs/deployments.py)."""

from __future__ import annotations

from prazium_api.contract.requests import CreateDeployment
from prazium_api.contract.responses import (
    Deployment,
    DeploymentCreated,
    DeploymentStopped,
    Ok,
    ok,
)
from prazium_api.routers.deps import Caller, Db, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import deployments

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
    return ok(
        deployments.create(caller.tenant, projectId, body.runId, body.provider, settings, database)
    )


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
    summary="Tear a preview down",
    operation_id="deleteDeployment",
    response_model=Ok[DeploymentStopped],
)
def delete_deployment(
    projectId: str, deploymentId: str, caller: Caller, database: Db
) -> Ok[DeploymentStopped]:
    return ok(deployments.delete(caller.tenant, projectId, deploymentId, database))
