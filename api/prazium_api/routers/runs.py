"""Runs (builds): start, list, get, cancel, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query

from prazium_api import builds, snapshots
from prazium_api.cluster import crs, history, lookup
from prazium_api.contract import views
from prazium_api.contract.errors import conflict, operator_timeout
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
from prazium_kit import ids
from prazium_kit.kinds import RUN, Project, Run
from prazium_kit.models import PROJECT_APPROVED_PHASES, RUN_FINAL_PHASES, RunPhase

router = ApiRouter(tags=["Builds"])


def _started(caller: Caller, run: Run, project_id: str, timeout: float) -> RunStarted:
    """The 201 answer: waits (bounded) for the operator to acknowledge the Run (hand
    out its run number). No acknowledgement in time is 500 OPERATOR_TIMEOUT, as for
    every synchronous route: the Run is recorded and is picked up when the operator
    is back, but a 201 without a run number would claim a start that has not happened."""
    acknowledged = crs.wait_until(
        caller.tenant,
        RUN,
        run.name,
        lambda r: bool(r.status.run_number),
        timeout,
        f"run {run.name}",
    )
    if acknowledged is None:
        raise operator_timeout("start the run", timeout, runId=ids.run_id(run.name))
    return views.run_started(acknowledged, project_id)


def _buildable(project: Project, project_id: str) -> None:
    phase = views.project_phase(project)
    if phase == "archived":
        raise conflict(f"project {project_id} is archived")
    if phase not in PROJECT_APPROVED_PHASES:
        raise conflict(
            f"project {project_id} has no approved spec (status {phase}); approve the spec first",
            {"status": phase},
        )


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
    project = lookup.project(caller.tenant, projectId)
    _buildable(project, projectId)
    run = builds.create_run(database, settings, caller, project, body.trigger, body.parallelism)
    return ok(_started(caller, run, projectId, settings.sync_timeout_seconds))


@router.get(
    "/projects/{projectId}/runs",
    summary="List a project's runs",
    operation_id="listRuns",
    response_model=OkPage[RunSummary],
)
def list_runs(
    projectId: str,
    caller: Caller,
    paging: Paging,
    database: Db,
    status: Annotated[RunPhase | None, Query(description="Filter by status")] = None,
) -> OkPage[RunSummary]:
    """Live Runs merged with the archived ones retention pruned from the cluster:
    ordered by run number on keys alone, then only the page's archived bodies read."""
    name = lookup.project(caller.tenant, projectId).name
    live = {
        r.name: r
        for r in crs.list_objects(caller.tenant, RUN)
        if r.spec.project_ref.name == name and (status is None or views.run_phase(r) == status)
    }
    keys = [(r.status.run_number or 0, r.created_at or "", n) for n, r in live.items()]
    keys += [
        (k.run_number, k.created_at, k.name)
        for k in history.run_keys(database, caller.tenant, name, status)
        if k.name not in live
    ]
    keys.sort(reverse=True)
    page, pagination = paging.apply(keys)
    wanted = [n for _, _, n in page if n not in live]
    archived = {r.name: r for r in history.runs(database, caller.tenant, wanted)}
    found = {**archived, **live}
    summaries = [views.run_summary(found[n]) for _, _, n in page if n in found]
    return ok_page(RunSummary, summaries, pagination)


@router.get(
    "/projects/{projectId}/runs/{runId}",
    summary="Get a run with its plan and tasks",
    operation_id="getRun",
    response_model=Ok[RunDetail],
)
def get_run(
    projectId: str, runId: str, caller: Caller, settings: Settings, database: Db
) -> Ok[RunDetail]:
    run = lookup.run(caller.tenant, projectId, runId, database)
    tasks = lookup.tasks(caller.tenant, run.name, database)
    snapshot = snapshots.spec_snapshot(settings.data_dir, caller.tenant, run)
    return ok(views.run_detail(run, tasks, snapshot))


@router.post(
    "/projects/{projectId}/runs/{runId}/cancel",
    summary="Cancel a run",
    operation_id="cancelRun",
    response_model=Ok[RunCancelled],
)
def cancel_run(
    projectId: str, runId: str, caller: Caller, settings: Settings, database: Db
) -> Ok[RunCancelled]:
    run = lookup.run(caller.tenant, projectId, runId, database)
    phase = views.run_phase(run)
    if phase in ("succeeded", "failed"):
        raise conflict(f"run {runId} already {phase}", {"status": phase})
    if phase != "cancelled":
        crs.patch_spec(caller.tenant, RUN, run.name, f"run {runId}", cancel=True)
        # A terminal phase is the operator's answer by itself; the Run's
        # observedGeneration is not required to move for it.
        timeout = settings.sync_timeout_seconds
        finished = crs.wait_until(
            caller.tenant,
            RUN,
            run.name,
            lambda r: views.run_phase(r) in RUN_FINAL_PHASES,
            timeout,
            f"run {runId}",
        )
        if finished is None:
            raise operator_timeout("cancel the run", timeout)
        run = finished
    return ok(RunCancelled(id=runId, status=views.run_phase(run)))


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
    project = lookup.project(caller.tenant, projectId)
    old = lookup.run(caller.tenant, projectId, runId, database)
    phase = views.run_phase(old)
    if phase not in RUN_FINAL_PHASES:
        raise conflict(
            f"run {runId} is still {phase}; cancel it or wait before retrying", {"status": phase}
        )
    if views.project_phase(project) == "archived":
        raise conflict(f"project {projectId} is archived")
    run = builds.create_run(
        database,
        settings,
        caller,
        project,
        "retry",
        old.spec.parallelism,
        retry_of=old.name,
    )
    return ok(_started(caller, run, projectId, settings.sync_timeout_seconds))
