"""Runs (builds): start, list, get, cancel, retry."""

from __future__ import annotations

from typing import Annotated, Literal

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
)
from prazium_api.routers.deps import Caller, Db, Paging, Settings, ok
from prazium_api.routers.routing import ApiRouter
from prazium_kit import ids
from prazium_kit.kube import RUNS
from prazium_kit.types import Obj

router = ApiRouter(tags=["Builds"])
RunPhase = Literal[
    "pending",
    "decomposing",
    "executing",
    "merging",
    "verifying",
    "succeeded",
    "failed",
    "cancelled",
]
BUILDABLE = frozenset({"approved", "building", "built", "failed"})


def _started(caller: Caller, run: Obj, project_id: str, timeout: float) -> Obj:
    """The 201 answer: waits (bounded) for the operator to acknowledge the Run (hand
    out its run number). No acknowledgement in time is 500 OPERATOR_TIMEOUT, as for
    every synchronous route: the Run is recorded and is picked up when the operator
    is back, but a 201 without a run number would claim a start that has not happened."""
    name = run["metadata"]["name"]
    acknowledged = crs.wait_until(
        caller.tenant,
        RUNS,
        name,
        lambda o: bool(o.get("status", {}).get("runNumber")),
        timeout,
        f"run {name}",
    )
    if acknowledged is None:
        raise operator_timeout("start the run", timeout, runId=ids.run_id(name))
    run = acknowledged
    summary = views.run_summary(run)
    phase = summary["status"]
    return {
        "id": summary["id"],
        "projectId": project_id,
        "runNumber": summary["runNumber"],
        # The contract reports a run that is about to be planned as "decomposing".
        "status": "decomposing" if phase in ("pending", "decomposing") else phase,
        "trigger": summary["trigger"],
        "createdAt": summary["createdAt"],
    }


def _buildable(project: Obj, project_id: str) -> None:
    phase = views.project_phase(project)
    if phase == "archived":
        raise conflict(f"project {project_id} is archived")
    if phase not in BUILDABLE:
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
) -> Obj:
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
) -> Obj:
    """Live Runs merged with the archived ones retention pruned from the cluster:
    ordered by run number on keys alone, then only the page's archived bodies read."""
    name = lookup.project(caller.tenant, projectId)["metadata"]["name"]
    live = {
        r["metadata"]["name"]: r
        for r in crs.list_objects(caller.tenant, RUNS)
        if views.run_project(r) == name and (status is None or views.run_phase(r) == status)
    }
    keys = [
        (r.get("status", {}).get("runNumber") or 0, r["metadata"].get("creationTimestamp", ""), n)
        for n, r in live.items()
    ]
    keys += [
        (k.run_number, k.created_at, k.name)
        for k in history.run_keys(database, caller.tenant, name, status)
        if k.name not in live
    ]
    keys.sort(reverse=True)
    page, pagination = paging.apply(keys)
    wanted = [n for _, _, n in page if n not in live]
    archived = {r["metadata"]["name"]: r for r in history.runs(database, caller.tenant, wanted)}
    found = {**archived, **live}
    return ok(
        [views.run_summary(found[n]) for _, _, n in page if n in found], pagination=pagination
    )


@router.get(
    "/projects/{projectId}/runs/{runId}",
    summary="Get a run with its plan and tasks",
    operation_id="getRun",
    response_model=Ok[RunDetail],
)
def get_run(projectId: str, runId: str, caller: Caller, settings: Settings, database: Db) -> Obj:
    run = lookup.run(caller.tenant, projectId, runId, database)
    tasks = lookup.tasks(caller.tenant, run["metadata"]["name"], database)
    snapshot = snapshots.spec_snapshot(settings.data_dir, caller.tenant, run)
    return ok(views.run_detail(run, tasks, snapshot))


@router.post(
    "/projects/{projectId}/runs/{runId}/cancel",
    summary="Cancel a run",
    operation_id="cancelRun",
    response_model=Ok[RunCancelled],
)
def cancel_run(projectId: str, runId: str, caller: Caller, settings: Settings, database: Db) -> Obj:
    run = lookup.run(caller.tenant, projectId, runId, database)
    phase = views.run_phase(run)
    if phase in ("succeeded", "failed"):
        raise conflict(f"run {runId} already {phase}", {"status": phase})
    if phase != "cancelled":
        name = run["metadata"]["name"]
        crs.patch(caller.tenant, RUNS, name, {"spec": {"cancel": True}}, f"run {runId}")
        # A terminal phase is the operator's answer by itself; the Run's
        # observedGeneration is not required to move for it.
        timeout = settings.sync_timeout_seconds
        finished = crs.wait_until(
            caller.tenant,
            RUNS,
            name,
            lambda o: views.run_phase(o) in views.TERMINAL_RUN_PHASES,
            timeout,
            f"run {runId}",
        )
        if finished is None:
            raise operator_timeout("cancel the run", timeout)
        run = finished
    return ok({"id": runId, "status": views.run_phase(run)})


@router.post(
    "/projects/{projectId}/runs/{runId}/retry",
    status_code=201,
    summary="Start a new run with the same spec snapshot",
    operation_id="retryRun",
    response_model=Ok[RunStarted],
)
def retry_run(projectId: str, runId: str, caller: Caller, settings: Settings, database: Db) -> Obj:
    project = lookup.project(caller.tenant, projectId)
    old = lookup.run(caller.tenant, projectId, runId, database)
    phase = views.run_phase(old)
    if phase not in views.TERMINAL_RUN_PHASES:
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
        old.get("spec", {}).get("parallelism"),
        retry_of=old["metadata"]["name"],
    )
    started = _started(caller, run, projectId, settings.sync_timeout_seconds)
    return ok(
        {
            key: started[key]
            for key in ("id", "runNumber", "status", "trigger", "projectId", "createdAt")
        }
    )
