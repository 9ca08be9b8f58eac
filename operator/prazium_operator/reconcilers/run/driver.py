"""Drives one Run from pending to succeeded / failed / cancelled.

A kopf daemon (handlers/run.py) runs :meth:`RunDriver.drive` per Run; it is
started again after an operator restart and picks up from status, so every
step checks what is already done (natural keys everywhere):

    pending      run number (optimistic concurrency), approval check, spec snapshot,
                 the project's build slot (one active run per project)
    decomposing  planner.decompose + validate_plan -> status.plan, Task CRs
    executing    DAG scheduling: a task starts when its dependencies succeeded, on a
                 branch whose base holds their work, up to spec.parallelism
    merging      branches merged into main in mergeOrder (compare-and-swap on main)
    verifying    the plan's verifyCommand in a clean checkout of the merged commit,
                 then (deliver.py) the tag run-<runId> and the push to spec.publish

The final journal event is written after the final status is stored.

status.observedGeneration follows metadata.generation (kstatus): the driver
reads the live spec (spec.cancel, spec.parallelism) on every step, so each
status write records the generation it acted on, and a spec change while a run
executes is acknowledged within a scheduling round. A finished Run's later spec
changes are acknowledged by handlers/run.py (observe_finished_run, observe_finished.py).

Each phase lives in its own module of this package (admission, decomposition,
scheduler + tasks, integrate, finish) as functions over one RunContext, asking
core.py's pure functions for their decisions; this module only decides which
phases a Run still needs.
"""

from __future__ import annotations

import asyncio
import functools

import kopf

from prazium_kit import kube, resources
from prazium_kit.models import RUN_FINAL_PHASES, RunSpec, RunStatus, spec_of, status_of
from prazium_operator import retrying
from prazium_operator.executor.base import Executor
from prazium_operator.reconcilers.run import (
    admission,
    core,
    decomposition,
    deliver,
    finish,
    integrate,
    scheduler,
)
from prazium_operator.reconcilers.run.context import (
    RunCancelled,
    RunContext,
    RunFailed,
    Stopped,
)
from prazium_operator.reconcilers.run.tasks import stop_running_tasks
from prazium_operator.reconcilers.run.wakeup import Wakeups
from prazium_operator.settings import Settings


class RunDriver:
    def __init__(
        self,
        namespace: str,
        name: str,
        body: kopf.Body,
        executor: Executor,
        wakeups: Wakeups,
        settings: Settings,
        stopped: kopf.DaemonStopped,
    ) -> None:
        self.namespace, self.name, self.body = namespace, name, body
        self.executor, self.wakeups = executor, wakeups
        self.settings, self.stopped = settings, stopped

    async def drive(self) -> None:
        run = await asyncio.to_thread(
            retrying.call,
            functools.partial(resources.get, self.namespace, kube.RUNS, self.name),
            window=self.settings.apiserver_retry_seconds,
            transient=retrying.apiserver_outage,
            what=f"reading run {self.namespace}/{self.name}",
        )
        if run is None:
            return
        # The one place a Run is parsed: the phases work on these models.
        ctx = RunContext(
            ns=self.namespace,
            name=self.name,
            live=self.body,
            executor=self.executor,
            settings=self.settings,
            stopped=self.stopped,
            wakeups=self.wakeups,
            run=run,
            spec=spec_of(run, RunSpec),
            status=status_of(run, RunStatus),
        )
        if ctx.status.phase in RUN_FINAL_PHASES:
            await finish.after_final(ctx)
            return
        try:
            await admission.ensure_identity(ctx)
            if (ctx.status.phase or "pending") == "pending":
                await admission.admit(ctx)
                await admission.start(ctx)
            await admission.load_project(ctx)
            if ctx.status.phase == "decomposing":
                await decomposition.decompose(ctx)
            await decomposition.load_tasks(ctx)
            if ctx.status.phase == "executing":
                await scheduler.execute(ctx)
            if ctx.status.phase == "merging":
                await integrate.merge(ctx)
            if ctx.status.phase == "verifying":
                await integrate.verify_merged(ctx)
            outcome = core.run_outcome()
            # Tag run-<runId>, push to spec.publish (a refused push is noted, not fatal).
            note = await deliver.deliver(ctx)
            await finish.finish(ctx, outcome.phase, outcome.message + note)
        except RunFailed as exc:
            await stop_running_tasks(ctx)
            await finish.finish(ctx, "failed", str(exc))
        except RunCancelled:
            await finish.cancel(ctx)
        except Stopped:
            if (
                ctx.stopped.reason
                and kopf.DaemonStoppingReason.RESOURCE_DELETED in ctx.stopped.reason
            ):
                await stop_running_tasks(ctx)
                # Also any Job the operator no longer remembers (by label); the Run's
                # delete handler does the same, so either one is enough.
                await ctx.executor.release_run(ctx.ns, ctx.name)
