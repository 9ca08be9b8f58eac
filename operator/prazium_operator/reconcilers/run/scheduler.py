"""executing: the DAG scheduler over a Run's Tasks.

A task starts when its dependencies succeeded, up to spec.parallelism at once and
as far as the executor has capacity. Every round starts from the Tasks' stored
phases, so a restarted daemon carries on with the workers already running. What
a round does is core.execution_round; this module carries it out.
"""

from __future__ import annotations

from prazium_kit import ids
from prazium_operator.reconcilers.run import core
from prazium_operator.reconcilers.run.context import (
    RunContext,
    RunFailed,
    check,
    event,
    in_phase,
    live_spec,
    observe_generation,
    set_phase,
    set_task_phase,
    sleep,
    update_summary,
    views,
)
from prazium_operator.reconcilers.run.tasks import cancel_task, poll, start_task
from prazium_operator.status import task as task_status

POLL_SECONDS = 0.2


async def execute(ctx: RunContext) -> None:
    while True:
        check(ctx)
        parallelism = live_spec(ctx).parallelism
        await observe_generation(ctx)
        for task in in_phase(ctx, "running"):
            await poll(ctx, task)
        await update_summary(ctx)
        round_ = core.execution_round(views(ctx), parallelism)
        if round_.verdict is core.Verdict.DRAIN:
            await sleep(ctx, POLL_SECONDS)  # let started siblings finish cleanly
            continue
        if round_.verdict is core.Verdict.FAIL:
            assert round_.failed is not None
            for task_id in round_.to_cancel:
                await cancel_task(
                    ctx, ctx.tasks[task_id], f"not started: {round_.failed.id} failed"
                )
            await update_summary(ctx)
            raise RunFailed(core.run_outcome(failed_task=round_.failed).message)
        if round_.verdict is core.Verdict.SUCCEEDED:
            break
        for task_id in round_.to_queue:
            task = ctx.tasks[task_id]
            # Journal first (tasks.py says why): a crash in between re-queues, deduplicated.
            await event(
                ctx,
                task_status.PHASES["queued"].journal_type,
                {"taskId": ids.task_id(task.id), "slug": task.definition.slug},
                task=task.id,
            )
            await set_task_phase(ctx, task, "queued", "dependencies done")
        for task_id in round_.to_start:
            if not ctx.executor.has_capacity():
                break
            task = ctx.tasks[task_id]
            await start_task(ctx, task, (task.status.attempts or 0) + 1)
        await update_summary(ctx)
        await ctx.executor.wait_for_exit(POLL_SECONDS)
    await set_phase(ctx, "merging")
