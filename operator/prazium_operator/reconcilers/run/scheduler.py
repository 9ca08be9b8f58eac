"""executing: the DAG scheduler over a Run's Tasks.

A task starts when its dependencies succeeded, up to spec.parallelism at once and
as far as the executor has capacity; in a retry, a ready task the retried run
finished unchanged is taken over instead (reuse.py), without a worker. Every round
starts from the Tasks' stored phases, so a restarted daemon carries on with the
workers already running. What a round does is core.execution_round; this module
carries it out.
"""

from __future__ import annotations

import math
import time
from typing import NoReturn

from prazium_operator.executor import noderoom
from prazium_operator.reconcilers.run import budget, core, prestart, repair, reuse
from prazium_operator.reconcilers.run.context import (
    RunContext,
    RunFailed,
    TaskState,
    check,
    in_phase,
    live_spec,
    observe_generation,
    set_phase,
    set_task,
    sleep,
    update_summary,
    views,
)
from prazium_operator.reconcilers.run.tasks import cancel_task, poll, queue_tasks, start_task

# A run with a running worker looks at it this often (its live events, its exit; the
# executor wakes it sooner when a worker exits).
POLL_SECONDS = 0.2
# A run with nothing running sleeps until woken (a free worker slot in its turn, an
# event of its Run: reconcilers/run/wakeup.py); this is only the safety net.
IDLE_SECONDS = 10.0


async def execute(ctx: RunContext) -> None:
    while True:
        check(ctx)
        parallelism = live_spec(ctx).parallelism
        await observe_generation(ctx)
        for task in in_phase(ctx, "running"):
            await poll(ctx, task)
        round_ = core.execution_round(views(ctx), parallelism)
        # A budget reached stops what runs (the stop file) and starts nothing more.
        spent = await budget.enforce(ctx)
        if spent is not None and round_.verdict is not core.Verdict.SUCCEEDED:
            if in_phase(ctx, "running"):
                await update_summary(ctx)
                await ctx.executor.wait_for_exit(POLL_SECONDS)
                continue
            await _fail_on_budget(ctx, spent)
        if round_.verdict is core.Verdict.DRAIN:
            await update_summary(ctx)
            ctx.wakeups.round_done(ctx.key)
            await sleep(ctx, POLL_SECONDS)  # let started siblings finish cleanly
            continue
        if round_.verdict is core.Verdict.FAIL:
            await _fail(ctx, round_)
        if round_.verdict is core.Verdict.SUCCEEDED:
            await update_summary(ctx)
            break
        # A retry's unchanged tasks are taken over, not started: their dependents may
        # be ready at once, so the next round follows without waiting.
        if await reuse.take_over_ready(ctx):
            await update_summary(ctx)
            continue
        blocked = await _start_ready(ctx, round_)
        await prestart.prestart_round(ctx)
        await update_summary(ctx)
        if blocked:
            ctx.wakeups.want_slot(ctx.key)
        else:
            ctx.wakeups.round_done(ctx.key)
        if in_phase(ctx, "running"):
            await ctx.executor.wait_for_exit(POLL_SECONDS)
        else:
            await ctx.wakeups.wait(ctx.key, IDLE_SECONDS, ctx.stopped)
    ctx.wakeups.round_done(ctx.key)
    await set_phase(ctx, "merging")


async def _fail(ctx: RunContext, round_: core.Round) -> NoReturn:
    """A task failed and nothing runs: cancel what never started, fail the run."""
    assert round_.failed is not None
    for task_id in round_.to_cancel:
        await cancel_task(ctx, ctx.tasks[task_id], f"not started: {round_.failed.id} failed")
    await update_summary(ctx)
    outcome = core.run_outcome(failed_task=round_.failed, repair_rounds=repair.rounds_done(ctx))
    # A task its attempt's own token limit stopped: the run fails for the same reason.
    stopped = _stop_reason(ctx.tasks[round_.failed.id])
    reason = budget.BUDGET_EXCEEDED if stopped == budget.BUDGET_EXCEEDED else outcome.reason
    raise RunFailed(outcome.message, reason)


async def _fail_on_budget(ctx: RunContext, spent: str) -> NoReturn:
    """The run's budget is reached and nothing runs: cancel what never started, fail the
    run saying which budget and how much was spent, and which tasks it stopped."""
    for task in in_phase(ctx, "pending", "queued"):
        await cancel_task(ctx, task, "not started: the run's budget is spent")
    await update_summary(ctx)
    stopped = [
        f"{task.id} ({task.definition.slug})"
        for task in ctx.tasks.values()
        if task.phase == "failed" and _stop_reason(task) == budget.BUDGET_EXCEEDED
    ]
    told = f"; stopped: {', '.join(stopped)}" if stopped else ""
    raise RunFailed(f"{spent}{told}", budget.BUDGET_EXCEEDED)


def _stop_reason(task: TaskState) -> str | None:
    """Why the coding-agent loop stopped the task's last attempt (its usage records it)."""
    usage = task.status.usage
    return usage.attempts[-1].reason if usage and usage.attempts else None


async def _start_ready(ctx: RunContext, round_: core.Round) -> bool:
    """Queue and start what the round names; True when some ready task must wait for a
    worker slot or for room on the nodes."""
    # Those not queued with their last dependency already (tasks.py, a restart).
    await queue_tasks(ctx, [ctx.tasks[task_id] for task_id in round_.to_queue])
    # Tasks whose Job waits already first: they need no new room on the nodes.
    order = sorted(round_.to_start, key=lambda task_id: task_id not in ctx.prestarted)
    keeper = noderoom.keeper(ctx.executor)
    blocked = False
    for number, task_id in enumerate(order):
        if not ctx.executor.has_capacity():
            # Wait for a slot in turn (wakeup.py), in the operator's queue rather than
            # as a Pending Pod on the node; the task says so.
            for waiting in order[number:]:
                await _note_waiting(ctx, ctx.tasks[waiting], slot_message(ctx))
            return True
        task = ctx.tasks[task_id]
        attempt = (task.status.attempts or 0) + 1
        missing = None if keeper is None else await keeper.room_to_start(ctx.ns, task.name, attempt)
        if missing is not None:
            # Likewise for room on the nodes: woken when a read shows room again.
            await _note_waiting(ctx, task, room_message(missing))
            blocked = True
            continue
        await start_task(ctx, task, attempt)
    return blocked


def slot_message(ctx: RunContext) -> str:
    limit = getattr(ctx.executor, "max_workers", None)
    full = f"all {limit} are in use" if isinstance(limit, int) else "none is free"
    return f"{core.WAITING_PREFIX} for a worker slot ({full})"


def room_message(missing: str) -> str:
    return f"{core.WAITING_PREFIX} for room on the nodes: {missing}"


async def _note_waiting(ctx: RunContext, task: TaskState, message: str) -> None:
    now = time.monotonic()
    shown_for = now - ctx.waiting_noted.get(task.id, -math.inf)
    if core.rewrite_waiting(task.status.message, message, shown_for):
        await set_task(ctx, task, message=message)
        ctx.waiting_noted[task.id] = now
