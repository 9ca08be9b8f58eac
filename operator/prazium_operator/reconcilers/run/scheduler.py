"""executing: the DAG scheduler over a Run's Tasks.

A task starts when its dependencies succeeded, up to spec.parallelism at once and
as far as the executor has capacity. Every round starts from the Tasks' stored
phases, so a restarted daemon carries on with the workers already running.
"""

from __future__ import annotations

from prazium_kit import ids, journal
from prazium_operator.runflow.context import (
    RunContext,
    RunFailed,
    TaskState,
    check,
    event,
    in_phase,
    observe_generation,
    set_phase,
    sleep,
    spec,
    update_summary,
)
from prazium_operator.runflow.tasks import cancel_task, poll, set_task, start_task

POLL_SECONDS = 0.2


async def execute(ctx: RunContext) -> None:
    while True:
        check(ctx)
        parallelism = int(spec(ctx).get("parallelism") or 3)
        await observe_generation(ctx)
        for task in in_phase(ctx, "running"):
            await poll(ctx, task)
        await update_summary(ctx)
        failed = in_phase(ctx, "failed")
        running = in_phase(ctx, "running")
        if failed:
            if running:
                await sleep(ctx, POLL_SECONDS)  # let started siblings finish cleanly
                continue
            first = failed[0]
            for task in in_phase(ctx, "pending", "queued"):
                await cancel_task(ctx, task, f"not started: {first.id} failed")
            await update_summary(ctx)
            raise RunFailed(f"task {first.id} ({first.definition['slug']}) failed: "
                            f"{first.status.get('message', '')}")
        if all(t.phase == "succeeded" for t in ctx.tasks.values()):
            break
        ready = [t for t in in_phase(ctx, "pending", "queued") if _deps_done(ctx, t)]
        for task in ready:
            if task.phase == "pending":
                await set_task(ctx, task, phase="queued", message="dependencies done")
                await event(ctx, journal.TASK_QUEUED, {"taskId": ids.task_id(task.id),
                            "slug": task.definition["slug"]}, task=task.id)
        for task in ready[: max(parallelism - len(running), 0)]:
            if not ctx.executor.has_capacity():
                break
            await start_task(ctx, task, int(task.status.get("attempts") or 0) + 1)
        await update_summary(ctx)
        await ctx.executor.wait_for_exit(POLL_SECONDS)
    await set_phase(ctx, "merging")


def _deps_done(ctx: RunContext, task: TaskState) -> bool:
    return all(ctx.tasks[dep].phase == "succeeded"
               for dep in task.definition.get("dependencies", []))
