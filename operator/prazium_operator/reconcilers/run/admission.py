"""pending: the Run's identity, run number, spec snapshot and the project's build slot.

Each step checks what an earlier (crashed) daemon already stored, so admitting
twice allocates one run number and takes one snapshot. Whether the run may build
at all is core.admission_decision.
"""

from __future__ import annotations

import asyncio

from prazium_kit import ids, kube, resources
from prazium_kit.models import (
    RUN_FINAL_PHASES,
    ProjectSpec,
    ProjectStatus,
    RunStatus,
    SpecSnapshot,
    spec_of,
    status_of,
)
from prazium_kit.timefmt import utc_now
from prazium_kit.types import Obj
from prazium_operator import gitrepo, retention
from prazium_operator.reconcilers.project import state as project_state
from prazium_operator.reconcilers.run import core
from prazium_operator.reconcilers.run.context import (
    RunContext,
    RunFailed,
    apiserver,
    check,
    event,
    k8s_event,
    set_phase,
    set_status,
    sleep,
)
from prazium_operator.status import run as run_status

WAIT_FOR_SLOT_SECONDS = 0.5
# How long a Run waits for its Project to reach the spec version the Project's own
# approval already names (both applied at once); then admission decides as usual.
WAIT_FOR_APPROVAL_SECONDS = 120.0


def _take_project(ctx: RunContext, project: Obj) -> None:
    """Parse the Project once for the phases that follow."""
    ctx.project_spec = spec_of(project, ProjectSpec)
    ctx.project_status = status_of(project, ProjectStatus)


async def ensure_identity(ctx: RunContext) -> None:
    labels = ctx.run["metadata"].get("labels", {})
    project = await apiserver(ctx, resources.get, ctx.ns, kube.PROJECTS, ctx.project)
    owners = ctx.run["metadata"].get("ownerReferences") or []
    meta: Obj = {}
    if labels.get(kube.LABEL_PROJECT) != ctx.project:
        meta["labels"] = {kube.LABEL_PROJECT: ctx.project}
    if project and not any(o.get("uid") == project["metadata"]["uid"] for o in owners):
        meta["ownerReferences"] = [*owners, kube.owner_reference(project, controller=False)]
    if meta:
        await apiserver(ctx, resources.patch_meta, ctx.ns, kube.RUNS, ctx.name, meta)
    if project is None:
        raise RunFailed(f"project {ctx.project!r} does not exist in namespace {ctx.ns!r}")
    _take_project(ctx, project)
    if not ctx.status.run_number:
        number = await asyncio.to_thread(project_state.allocate_run_number, ctx.ns, ctx.project)
        await set_status(ctx, run_number=number)
        await set_phase(ctx, "pending", "admitting")


async def admit(ctx: RunContext) -> None:
    check(ctx)
    retry_of = ctx.spec.retry_of
    retried = None
    if not ctx.status.spec_snapshot and not retry_of:
        await _await_approval_in_progress(ctx)
    if retry_of and not ctx.status.spec_snapshot and not ctx.archived:
        old = await apiserver(ctx, resources.get, ctx.ns, kube.RUNS, retry_of)
        if old is None:  # pruned by retention: its record is in the run archive
            old = await asyncio.to_thread(retention.archived_run, ctx.settings, ctx.ns, retry_of)
        retried = status_of(old, RunStatus).spec_snapshot
    decision = core.admission_decision(
        ctx.project,
        ctx.archived,
        ctx.project_status,
        snapshot=ctx.status.spec_snapshot,
        retry_of=retry_of,
        retried_snapshot=retried,
    )
    if isinstance(decision, core.Refused):
        raise RunFailed(decision.message)
    if not ctx.status.spec_snapshot:
        await set_status(ctx, spec_snapshot=decision.snapshot)
    waiting_on = None
    while True:
        check(ctx)
        holder = await asyncio.to_thread(
            project_state.try_acquire_slot,
            ctx.ns,
            ctx.project,
            ctx.name,
            lambda other: _run_is_active(ctx, other),
        )
        if holder is None:
            return
        if holder != waiting_on:
            waiting_on = holder
            await set_phase(
                ctx,
                "pending",
                f"waiting for run {holder} to finish: a project builds one run at a time",
            )
        await sleep(ctx, WAIT_FOR_SLOT_SECONDS)


async def _await_approval_in_progress(ctx: RunContext) -> None:
    """Wait (pending, with a message) while the Project is planned towards the spec
    version it already approves, keeping the latest Project in the context."""
    assert ctx.project_spec is not None and ctx.project_status is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_FOR_APPROVAL_SECONDS
    told = False
    while (
        core.approval_in_progress(ctx.project_spec, ctx.project_status) and loop.time() < deadline
    ):
        check(ctx)
        if not told:
            told = True
            await set_phase(
                ctx,
                "pending",
                f"waiting for project {ctx.project!r} to reach the spec version its approval names",
            )
        await sleep(ctx, WAIT_FOR_SLOT_SECONDS)
        latest = await asyncio.to_thread(resources.get, ctx.ns, kube.PROJECTS, ctx.project)
        if latest is not None:
            _take_project(ctx, latest)


def _run_is_active(ctx: RunContext, other: str) -> bool:
    obj = resources.get(ctx.ns, kube.RUNS, other)
    return obj is not None and status_of(obj, RunStatus).phase not in RUN_FINAL_PHASES


async def start(ctx: RunContext) -> None:
    main = await asyncio.to_thread(gitrepo.rev_parse, ctx.repo, gitrepo.MAIN)
    if main is None:
        raise RunFailed(f"project {ctx.project!r} has no repository yet")
    await set_status(
        ctx,
        started_at=ctx.status.started_at or utc_now(),
        base_commit=ctx.status.base_commit or main,
    )
    await set_phase(ctx, "decomposing")
    snapshot = ctx.status.spec_snapshot or SpecSnapshot()
    await event(
        ctx,
        run_status.PHASES["decomposing"].journal_type,
        {
            "runId": ids.run_id(ctx.name),
            "runNumber": ctx.status.run_number,
            "trigger": ctx.spec.trigger,
            "specVersion": snapshot.version,
        },
    )
    await k8s_event(
        ctx.run,
        run_status.PHASES["decomposing"].event_reason,
        f"run #{ctx.status.run_number} of {ctx.project} started",
    )


async def load_project(ctx: RunContext) -> None:
    if ctx.project_spec is None:
        project = await apiserver(ctx, resources.get, ctx.ns, kube.PROJECTS, ctx.project)
        if project is None:
            raise RunFailed(f"project {ctx.project!r} no longer exists")
        _take_project(ctx, project)
