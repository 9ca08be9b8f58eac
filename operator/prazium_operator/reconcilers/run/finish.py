"""The end of a Run: cancel, final status and Kubernetes Event, then the idempotent tail.

The tail (latest run, build slot, worktrees, final journal event) also runs for a
Run found already finished, because the daemon may have died between the final
status and the final event; the event's dedup key keeps it to one.
"""

from __future__ import annotations

import asyncio

from prazium_kit import journal, kube, paths, resources
from prazium_operator import (
    conditions,
    gitrepo,
    projectstate,
    recorder,
)
from prazium_operator.runflow.context import (
    RunContext,
    event,
    in_phase,
    k8s_event,
    set_phase,
    set_status,
    update_summary,
)
from prazium_operator.runflow.tasks import cancel_task, stop_running_tasks


async def cancel(ctx: RunContext) -> None:
    await stop_running_tasks(ctx)
    for task in in_phase(ctx, "pending", "queued", "running"):
        await cancel_task(ctx, task, "cancelled with the run")
    await finish(ctx, "cancelled", "cancelled by request (spec.cancel)")


async def finish(ctx: RunContext, phase: str, message: str) -> None:
    if ctx.tasks:
        await update_summary(ctx)
    # Before the final status: whoever sees the run finished sees no worktree left.
    await asyncio.to_thread(_remove_worktrees, ctx)
    await set_status(ctx, completedAt=conditions.now_iso())
    await set_phase(ctx, phase, message)
    await k8s_event(ctx.run, {"succeeded": "RunSucceeded", "failed": "RunFailed",
                              "cancelled": "RunCancelled"}[phase], message,
                    warning=phase != "succeeded")
    await after_final(ctx)


async def after_final(ctx: RunContext) -> None:
    """Idempotent tail of a finished run: slot, worktrees, then the final event."""
    phase = ctx.status["phase"]
    if ctx.status.get("runNumber"):
        project = await asyncio.to_thread(resources.get, ctx.ns, kube.PROJECTS, ctx.project)
        await asyncio.to_thread(
            projectstate.record_latest_run, ctx.ns, ctx.project, ctx.name,
            int(ctx.status["runNumber"]), phase,
            (ctx.status.get("specSnapshot") or {}).get("version"),
            bool(((project or {}).get("spec") or {}).get("archived")))
    await asyncio.to_thread(projectstate.release_slot, ctx.ns, ctx.project, ctx.name)
    await asyncio.to_thread(_remove_worktrees, ctx)
    final = {"succeeded": journal.RUN_COMPLETED, "failed": journal.RUN_FAILED,
             "cancelled": journal.RUN_CANCELLED}[phase]
    await event(ctx, final, {
        "status": phase, "message": ctx.status.get("message", ""),
        "runNumber": ctx.status.get("runNumber"),
        "mergedCommit": ctx.status.get("mergedCommit")},
        key=recorder.dedup_key(ctx.ns, ctx.name, None, "RUN_FINAL"))


def _remove_worktrees(ctx: RunContext) -> None:
    run_dir = paths.project_workspace(ctx.settings.data_dir, ctx.ns, ctx.project) / ctx.name
    if not ctx.repo.exists():
        return
    if run_dir.exists():
        for worktree in sorted(run_dir.iterdir()):
            gitrepo.remove_worktree(ctx.repo, worktree)
        run_dir.rmdir() if not any(run_dir.iterdir()) else None
    gitrepo.git("worktree", "prune", cwd=ctx.repo, check=False)
