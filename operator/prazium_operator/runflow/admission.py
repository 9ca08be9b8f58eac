"""pending: the Run's identity, run number, spec snapshot and the project's build slot.

Each step checks what an earlier (crashed) daemon already stored, so admitting
twice allocates one run number and takes one snapshot.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prazium_operator import conditions, gitrepo, ids, journal, kube, projectstate, resources
from prazium_operator.runflow.context import (
    TERMINAL,
    RunContext,
    RunFailed,
    check,
    event,
    k8s_event,
    set_phase,
    set_status,
    sleep,
)

WAIT_FOR_SLOT_SECONDS = 0.5
# A Project applied together with its Run (`kubectl apply -f project.yaml -f run.yaml`)
# is still being planned when the Run arrives: how long to wait for the version its
# spec already approves.
WAIT_FOR_APPROVAL_SECONDS = 120.0


async def ensure_identity(ctx: RunContext) -> None:
    labels = ctx.run["metadata"].get("labels") or {}
    project = await asyncio.to_thread(resources.get, ctx.ns, kube.PROJECTS, ctx.project)
    owners = ctx.run["metadata"].get("ownerReferences") or []
    meta: dict[str, Any] = {}
    if labels.get(kube.LABEL_PROJECT) != ctx.project:
        meta["labels"] = {kube.LABEL_PROJECT: ctx.project}
    if project and not any(o.get("uid") == project["metadata"]["uid"] for o in owners):
        meta["ownerReferences"] = [*owners, kube.owner_reference(project, controller=False)]
    if meta:
        await asyncio.to_thread(resources.patch_meta, ctx.ns, kube.RUNS, ctx.name, meta)
    if project is None:
        raise RunFailed(f"project {ctx.project!r} does not exist in namespace {ctx.ns!r}")
    ctx.project_obj = project
    if not ctx.status.get("runNumber"):
        number = await asyncio.to_thread(
            projectstate.allocate_run_number, ctx.ns, ctx.project)
        await set_status(ctx, runNumber=number)
        await set_phase(ctx, "pending", "admitting")


async def admit(ctx: RunContext) -> None:
    check(ctx)
    project = ctx.project_obj
    if (project.get("spec") or {}).get("archived"):
        raise RunFailed(f"project {ctx.project!r} is archived; it accepts no new runs")
    if not ctx.status.get("specSnapshot"):
        project = await _await_approval_in_progress(ctx, project)
        await set_status(ctx, specSnapshot=await _snapshot(ctx, project))
    waiting_on = None
    while True:
        check(ctx)
        holder = await asyncio.to_thread(
            projectstate.try_acquire_slot, ctx.ns, ctx.project, ctx.name,
            lambda other: _run_is_active(ctx, other))
        if holder is None:
            return
        if holder != waiting_on:
            waiting_on = holder
            await set_phase(
                ctx, "pending", f"waiting for run {holder} to finish: a project builds one"
                " run at a time")
        await sleep(ctx, WAIT_FOR_SLOT_SECONDS)


def _approval_in_progress(project: dict[str, Any]) -> bool:
    """The Project's spec approves a version that is not generated (or recorded) yet."""
    wanted = ((project.get("spec") or {}).get("approval") or {}).get("specVersion")
    spec_state = (project.get("status") or {}).get("spec") or {}
    version = spec_state.get("version")
    if not wanted or (version and spec_state.get("approvedVersion") == version):
        return False
    return not version or int(version) <= int(wanted)


async def _await_approval_in_progress(ctx: RunContext, project: dict[str, Any]
                                      ) -> dict[str, Any]:
    """Wait (pending, with a message) while the Project is planned towards the spec version
    it already approves; the latest Project then, approved or not (_snapshot decides)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_APPROVAL_SECONDS
    told = False
    while _approval_in_progress(project) and loop.time() < deadline:
        check(ctx)
        if not told:
            told = True
            await set_phase(ctx, "pending", f"waiting for project {ctx.project!r} to reach"
                            " the spec version its approval names")
        await sleep(ctx, WAIT_FOR_SLOT_SECONDS)
        latest = await asyncio.to_thread(resources.get, ctx.ns, kube.PROJECTS, ctx.project)
        project = latest or project
    return project


def _run_is_active(ctx: RunContext, other: str) -> bool:
    obj = resources.get(ctx.ns, kube.RUNS, other)
    return obj is not None and (obj.get("status") or {}).get("phase") not in TERMINAL


async def _snapshot(ctx: RunContext, project: dict[str, Any]) -> dict[str, Any]:
    retry_of = ctx.run["spec"].get("retryOf")
    if retry_of:
        old = await asyncio.to_thread(resources.get, ctx.ns, kube.RUNS, retry_of)
        snapshot = ((old or {}).get("status") or {}).get("specSnapshot")
        if not snapshot:
            raise RunFailed(f"retryOf names run {retry_of!r}, which has no spec snapshot")
        return dict(snapshot)
    spec_state = (project.get("status") or {}).get("spec") or {}
    version = spec_state.get("version")
    if not version or spec_state.get("approvedVersion") != version:
        phase = (project.get("status") or {}).get("phase", "draft")
        raise RunFailed(
            f"project {ctx.project!r} has no approved spec (phase {phase}); approve spec"
            f" version {version or '(none yet)'} with spec.approval.specVersion first")
    return {"version": version, "documents": dict(spec_state.get("documents") or {})}


async def start(ctx: RunContext) -> None:
    main = await asyncio.to_thread(gitrepo.rev_parse, ctx.repo, gitrepo.MAIN)
    if main is None:
        raise RunFailed(f"project {ctx.project!r} has no repository yet")
    await set_status(ctx, startedAt=ctx.status.get("startedAt") or conditions.now_iso(),
                     baseCommit=ctx.status.get("baseCommit") or main)
    await set_phase(ctx, "decomposing")
    await event(ctx, journal.RUN_STARTED, {
        "runId": ids.run_id(ctx.name), "runNumber": ctx.status["runNumber"],
        "trigger": ctx.run["spec"].get("trigger", "manual"),
        "specVersion": ctx.status["specSnapshot"].get("version")})
    await k8s_event(ctx.run, "RunStarted",
                    f"run #{ctx.status['runNumber']} of {ctx.project} started")


async def load_project(ctx: RunContext) -> None:
    if not ctx.project_obj:
        project = await asyncio.to_thread(resources.get, ctx.ns, kube.PROJECTS, ctx.project)
        if project is None:
            raise RunFailed(f"project {ctx.project!r} no longer exists")
        ctx.project_obj = project
