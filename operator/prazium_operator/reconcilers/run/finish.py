"""The end of a Run: cancel, final status and Kubernetes Event, then the idempotent tail.

The tail (latest run, build slot, worktrees, final journal event) also runs for a
Run found already finished, because the daemon may have died between the final
status and the final event; the event's dedup key keeps it to one. Which reason
and which events a final phase has is status/run.py's table. What a finished Run does
with a later spec change is observe_finished.py's.
"""

from __future__ import annotations

import asyncio

from prazium_kit import kube, paths, resources, timefmt
from prazium_kit.models import ProjectSpec, RunPhase, Usage, spec_of
from prazium_kit.timefmt import utc_now
from prazium_operator import gitrepo, metrics, recorder, retention
from prazium_operator.reconcilers.project import state as project_state
from prazium_operator.reconcilers.run import deliver, prestart, usage
from prazium_operator.reconcilers.run.context import (
    RunContext,
    apiserver,
    event,
    in_phase,
    k8s_event,
    set_phase,
    set_status,
    update_summary,
)
from prazium_operator.reconcilers.run.tasks import cancel_task, stop_running_tasks
from prazium_operator.status import run as run_status

CANCELLED_MESSAGE = "cancelled by request (spec.cancel)"


async def cancel(ctx: RunContext) -> None:
    await stop_running_tasks(ctx)
    for task in in_phase(ctx, "pending", "queued", "running"):
        await cancel_task(ctx, task, "cancelled with the run")
    await finish(ctx, "cancelled", CANCELLED_MESSAGE)


async def finish(ctx: RunContext, phase: RunPhase, message: str, reason: str | None = None) -> None:
    if ctx.tasks:
        await update_summary(ctx)
    # Jobs created ahead and never started, and whatever finished Job is left: gone
    # before the run is seen finished.
    await prestart.release(ctx)
    # Before the final status: whoever sees the run finished sees no worktree left.
    await asyncio.to_thread(_remove_worktrees, ctx)
    now = utc_now()
    await set_status(ctx, completed_at=now, duration=timefmt.duration(ctx.status.started_at, now))
    await set_phase(ctx, phase, message, reason)
    took = metrics.seconds_since(ctx.status.started_at)
    if took is not None:
        metrics.RUN_SECONDS.labels(phase).observe(took)
    row = run_status.PHASES[phase]
    await k8s_event(ctx.run, row.event_reason, message, warning=row.warning)
    await after_final(ctx)


async def after_final(ctx: RunContext) -> None:
    """Idempotent tail of a finished run: slot, worktrees, then the final event."""
    phase = ctx.status.phase
    assert phase is not None
    if ctx.status.run_number:
        project = await apiserver(ctx, resources.get, ctx.ns, kube.PROJECTS, ctx.project)
        archived = project is not None and spec_of(project, ProjectSpec).archived
        await apiserver(
            ctx,
            project_state.record_latest_run,
            ctx.ns,
            ctx.project,
            ctx.name,
            ctx.status.run_number,
            phase,
            ctx.status.spec_snapshot.version if ctx.status.spec_snapshot else None,
            archived,
        )
    await apiserver(ctx, project_state.release_slot, ctx.ns, ctx.project, ctx.name)
    await asyncio.to_thread(_remove_worktrees, ctx)
    if phase == "succeeded":  # a run that succeeded before tags existed gets one too
        await asyncio.to_thread(deliver.tag_run, ctx)
    # The run record outlives the Run: retention may prune it from the cluster later.
    final = await apiserver(ctx, resources.get, ctx.ns, kube.RUNS, ctx.name)
    if final is not None:
        await asyncio.to_thread(retention.archive_now, ctx.settings, final)
    await _record_project_usage(ctx)
    await event(
        ctx,
        run_status.PHASES[phase].journal_type,
        {
            "status": phase,
            "message": ctx.status.message or "",
            "reason": run_status.reason_of(ctx.status),
            "runNumber": ctx.status.run_number,
            "mergedCommit": ctx.status.merged_commit,
        },
        key=recorder.dedup_key(ctx.ns, ctx.name, None, "RUN_FINAL"),
    )


async def _record_project_usage(ctx: RunContext) -> None:
    """The Project's usage: its finished runs' (each archived as it ends), summed again."""
    stored = await asyncio.to_thread(retention.archived_usage, ctx.settings, ctx.ns, ctx.project)
    runs = [Usage.model_validate(item) for item in stored]
    if not runs:
        return
    await apiserver(ctx, project_state.record_usage, ctx.ns, ctx.project, usage.total(runs))


def _remove_worktrees(ctx: RunContext) -> None:
    run_dir = paths.project_workspace(ctx.settings.data_dir, ctx.ns, ctx.project) / ctx.name
    if not ctx.repo.exists():
        return
    if run_dir.exists():
        for worktree in sorted(run_dir.iterdir()):
            gitrepo.remove_worktree(ctx.repo, worktree)
        run_dir.rmdir() if not any(run_dir.iterdir()) else None
    gitrepo.git("worktree", "prune", cwd=ctx.repo, check=False)
