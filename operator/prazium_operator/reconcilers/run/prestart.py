"""Jobs created ahead of their work: the Pod start paid while the work before it runs.

With the kubernetes executor, each scheduling round asks core.prestart_round which
tasks' Jobs to create now (their dependencies run; their Pods wait for the go signal
that start_task gives once the dependencies are merged into the task's base), which
of those created are no longer needed (removed with their Pods), and whether to create
the verification Job (every task runs or succeeded: its Pod waits while the last
tasks run and merge). The executor bounds how many Pods wait at once
(executor/prestart.py); a task whose Job could not be created ahead is started the
usual way. A run that ends removes every Job of it that is left (release_run). After
an operator restart the run's Jobs created ahead are found again by their label. Each
round also keeps every waiting Pod's deadline ahead of its wait (prestart.keep_alive):
a task may wait long for a worker slot after its Job was created.
"""

from __future__ import annotations

import logging
from typing import cast

from kubernetes.client.exceptions import ApiException

from prazium_operator.executor import prestart as executor_prestart
from prazium_operator.executor import verification
from prazium_operator.executor.prestart import Prestarter, prestarter
from prazium_operator.reconcilers.run import core
from prazium_operator.reconcilers.run.context import (
    RunContext,
    TaskState,
    in_phase,
    live_spec,
    views,
)
from prazium_operator.reconcilers.run.tasks import prestart_request

log = logging.getLogger(__name__)


def _executor(ctx: RunContext) -> Prestarter | None:
    if not ctx.settings.prestart:
        return None
    return prestarter(ctx.executor)


def verification_runner(ctx: RunContext) -> verification.JobRunner | None:
    executor = prestarter(ctx.executor)
    if executor is None:
        return None
    return cast(
        verification.JobRunner,
        verification.runner(
            ctx.settings, ctx.ns, ctx.project, ctx.name, executor.room, executor.node_room
        ),
    )


async def prestart_round(ctx: RunContext) -> None:
    """Create what may wait now, remove what is no longer needed (best effort: a Job not
    created ahead is created when its task starts)."""
    executor = _executor(ctx)
    if executor is None:
        return
    try:
        await _adopt(ctx, executor)
        await executor_prestart.keep_alive(executor.room, ctx.settings.job_namespace)
        plan = ctx.status.plan
        # A retry takes unchanged tasks over instead of starting them (reuse.py): their
        # Pods would wait for nothing.
        tasks_ahead = not ctx.spec.retry_of
        decision = core.prestart_round(
            views(ctx),
            live_spec(ctx).parallelism,
            ctx.prestarted,
            verify=bool(plan and plan.verify_command),
            verification_prestarted=ctx.verification_prestarted,
            depth=ctx.settings.prestart_depth,
        )
        for task_id in decision.discard:
            await _discard(ctx, executor, ctx.tasks[task_id])
        if core.hold_ahead(
            ctx.wakeups.others_waiting(ctx.key),
            executor.node_room.places_now(),
            executor.max_workers,
        ):
            return
        for task_id in decision.create if tasks_ahead else []:
            task = ctx.tasks[task_id]
            if not await executor.prestart(await prestart_request(ctx, task), task.body):
                break  # the room is full: the others start the usual way
            ctx.prestarted.add(task_id)
        if decision.verification:
            await prestart_verification(ctx)
    except ApiException as exc:
        log.warning("creating Jobs ahead for run %s/%s: %s", ctx.ns, ctx.name, exc.reason)


async def prestart_verification(ctx: RunContext) -> None:
    """Create the verification Job ahead, if there is room (merging calls this too)."""
    plan = ctx.status.plan
    runner = verification_runner(ctx) if ctx.settings.prestart else None
    if runner is None or ctx.verification_prestarted or not (plan and plan.verify_command):
        return
    try:
        ctx.verification_prestarted = await runner.prestart(
            list(plan.verify_command), ctx.settings.verify_timeout_seconds
        )
    except ApiException as exc:
        log.warning("verification Job ahead for run %s/%s: %s", ctx.ns, ctx.name, exc.reason)


def verified(ctx: RunContext) -> None:
    """A verification ran (it used the Job created ahead, if any): a repair round's
    next verification may have one created ahead again."""
    ctx.verification_prestarted = False


async def release(ctx: RunContext) -> None:
    """The run ends: every Job of it left (created ahead and never started) goes."""
    if prestarter(ctx.executor) is None:
        return
    ctx.prestarted.clear()
    ctx.verification_prestarted = False
    await ctx.executor.release_run(ctx.ns, ctx.name)


async def _discard(ctx: RunContext, executor: Prestarter, task: TaskState) -> None:
    ctx.prestarted.discard(task.id)
    await executor.discard(await prestart_request(ctx, task), task.body)


async def _adopt(ctx: RunContext, executor: Prestarter) -> None:
    """Once per daemon: the run's Jobs created ahead by an earlier operator process."""
    if ctx.prestart_adopted:
        return
    ctx.prestart_adopted = True
    found = await executor.adopt_prestarted(ctx.ns, ctx.name)
    by_name = {task.name: task for task in ctx.tasks.values()}
    not_started = {task.id for task in in_phase(ctx, "pending", "queued")}
    for task_name, job in found.items():
        task = by_name.get(task_name)
        if task is not None and task.id in not_started:
            ctx.prestarted.add(task.id)
        elif task is not None and task.phase == "running":
            executor.room.release(job)  # started already: a running Job, not a waiting one
        elif task is not None:
            await _discard(ctx, executor, task)
        else:
            executor.room.release(job)
