"""A Run's budget (spec.budget of the Run over the Project's): what each attempt may
still spend, and the stop once the run's spend reaches it.

Each attempt is given what is left when it starts (its WorkerRequest's budget) and
stops itself there. Attempts running side by side each see that whole rest, so the
operator also sums every task's usage on each scheduling round (the running attempts'
as their AGENT_USAGE events report it) and, once the sum reaches the budget, writes
the run's stop file: every running attempt stops before its next model request
(reason BudgetExceeded). The decisions are usage.py's.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from prazium_kit import paths
from prazium_kit.models import Budget
from prazium_kit.types import Obj
from prazium_operator.reconcilers.run import usage
from prazium_operator.reconcilers.run.context import RunContext, k8s_event, live_spec

log = logging.getLogger("prazium_operator.runner")

BUDGET_EXCEEDED = "BudgetExceeded"
STOP_FILE = "stop"


def chosen(ctx: RunContext) -> Budget | None:
    project = ctx.project_spec.budget if ctx.project_spec else None
    return usage.chosen_budget(live_spec(ctx).budget, project)


def spend(ctx: RunContext) -> usage.Spend:
    return usage.Spend.of([task.status.usage for task in ctx.tasks.values()])


def attempt_budget(ctx: RunContext) -> Obj | None:
    return usage.attempt_budget(chosen(ctx), spend(ctx), ctx.settings.prices)


def stop_path(ctx: RunContext) -> Path:
    """Beside the run's result files, on the volume every worker of the run sees."""
    return paths.run_results(ctx.settings.data_dir, ctx.ns, ctx.name) / STOP_FILE


def reached(ctx: RunContext) -> str | None:
    """Why the run may spend no more (the budget and the spend), or None."""
    return usage.budget_reached(chosen(ctx), spend(ctx))


async def enforce(ctx: RunContext) -> str | None:
    """When the budget is reached: the stop file for the running attempts (written
    once, with a Warning Event on the Run), and the reason; None while it allows more."""
    why = reached(ctx)
    if why is None:
        return None
    stop = stop_path(ctx)
    if not stop.exists():
        await asyncio.to_thread(_write_stop, stop, why)
        log.info("run %s/%s: %s; stopping its running attempts", ctx.ns, ctx.name, why)
        await k8s_event(ctx.run, BUDGET_EXCEEDED, why, warning=True)
    return why


def _write_stop(stop: Path, why: str) -> None:
    # The loop reads the first line as the reason (agents/loop/usage.stop_requested);
    # written whole (then renamed), so no attempt reads half a line.
    # Never through a symlink: untrusted code in a worker Pod can write this directory.
    stop.parent.mkdir(parents=True, exist_ok=True)
    tmp = stop.with_name(f".{stop.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(why.replace("\n", " ") + "\n")
    os.replace(tmp, stop)
