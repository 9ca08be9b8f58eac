"""Runs (builds): start, list, get, cancel, retry (verbs/runs.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query

from prazium_api.contract.requests import StartRun
from prazium_api.contract.responses import (
    Ok,
    OkPage,
    RunCancelled,
    RunDetail,
    RunStarted,
    RunSummary,
    ok,
    ok_page,
)
from prazium_api.routers.deps import Caller, Db, Paging, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import runs
from prazium_kit.models import RunPhase

router = ApiRouter(tags=["Builds"])
StatusFilter = Annotated[RunPhase | None, Query(description="Filter by status")]


@router.post(
    "/projects/{projectId}/runs",
    status_code=201,
    summary="Start a build",
    operation_id="createRun",
    response_model=Ok[RunStarted],
)
def start_run(
    projectId: str,
    caller: Caller,
    settings: Settings,
    database: Db,
    body: Annotated[StartRun | None, Body()] = None,
) -> Ok[RunStarted]:
    body = body or StartRun()
    trigger, parallelism = body.trigger, body.parallelism
    return ok(runs.start(caller, projectId, trigger, parallelism, settings, database))


@router.get(
    "/projects/{projectId}/runs",
    summary="List a project's runs",
    operation_id="listRuns",
    response_model=OkPage[RunSummary],
)
def list_runs(
    projectId: str, caller: Caller, paging: Paging, database: Db, status: StatusFilter = None
) -> OkPage[RunSummary]:
    """Live Runs merged with the archived ones retention pruned from the cluster:
    ordered by run number on keys alone, then only the page's archived bodies read."""
    found, pagination = runs.page(caller.tenant, projectId, status, paging, database)
    return ok_page(RunSummary, found, pagination)


@router.get(
    "/projects/{projectId}/runs/{runId}",
    summary="Get a run with its plan and tasks",
    operation_id="getRun",
    response_model=Ok[RunDetail],
)
def get_run(
    projectId: str, runId: str, caller: Caller, settings: Settings, database: Db
) -> Ok[RunDetail]:
    return ok(runs.get(caller.tenant, projectId, runId, settings.data_dir, database))


@router.post(
    "/projects/{projectId}/runs/{runId}/cancel",
    summary="Cancel a run",
    operation_id="cancelRun",
    response_model=Ok[RunCancelled],
)
def cancel_run(
    projectId: str, runId: str, caller: Caller, settings: Settings, database: Db
) -> Ok[RunCancelled]:
    timeout = settings.sync_timeout_seconds
    return ok(runs.cancel(caller.tenant, projectId, runId, timeout, database))


@router.post(
    "/projects/{projectId}/runs/{runId}/retry",
    status_code=201,
    summary="Start a new run with the same spec snapshot",
    operation_id="retryRun",
    response_model=Ok[RunStarted],
)
def retry_run(
    projectId: str, runId: str, caller: Caller, settings: Settings, database: Db
) -> Ok[RunStarted]:
    return ok(runs.retry(caller, projectId, runId, settings, database))
