"""Repair rounds: after a failed verification, a repair Task fixes the merged app.

core.after_verification decides whether a round follows (spec.repair.maxRounds of
the Run, else the Project, else 1; never for the template coder); this module
starts it:

    REPAIR_STARTED      the journal, keyed by the round, and the Event RepairStarted
    the repair Task     <run>-task-NNN (the id after the plan's), role repair, its
                        branch from the merged commit (tasks._task_base), the test
                        output in its instructions, pathScope the whole app
    one status write    the task in status.plan and mergeOrder, status.repair.round,
                        phase executing

The run then executes (the repair task is the only one left to run), merges and
verifies again. A restarted daemon still in verifying verifies again and decides
the same round: the event is deduplicated and the Task exists (natural keys); once
the status write is done the round is recorded and never started twice.
"""

from __future__ import annotations

from prazium_kit import ids, journal
from prazium_kit.models import Plan, PlannedTask, RepairStatus, VerificationResult
from prazium_kit.types import Obj
from prazium_operator.reconcilers.run import core, decomposition
from prazium_operator.reconcilers.run.context import (
    RunContext,
    event,
    k8s_event,
    live_spec,
    set_phase,
    update_summary,
)

REPAIR_STARTED_REASON = "RepairStarted"


def rounds_done(ctx: RunContext) -> int:
    """Repair rounds started so far (0 before the first)."""
    return (ctx.status.repair.round if ctx.status.repair else None) or 0


def round_field(round_: int) -> Obj:
    """The round in an event's payload, for the events of a repair round only."""
    return {"repairRound": round_} if round_ else {}


def max_rounds(ctx: RunContext) -> int:
    project = ctx.project_spec.repair if ctx.project_spec else None
    return core.max_repair_rounds(live_spec(ctx).repair, project)


async def start_round(
    ctx: RunContext, decision: core.RepairRound, result: VerificationResult
) -> None:
    plan = ctx.status.plan
    assert plan is not None
    limit = max_rounds(ctx)
    await event(
        ctx,
        journal.REPAIR_STARTED,
        {
            "repairRound": decision.round,
            "maxRounds": limit,
            "taskId": ids.task_id(decision.task_id),
            "slug": decision.definition["slug"],
            "mergedCommit": ctx.status.merged_commit,
            "verification": {
                "exitCode": result.exit_code,
                "passed": result.passed,
                "failed": result.failed,
                "summary": result.summary,
            },
        },
        extra=decision.round,
    )
    await k8s_event(
        ctx.run,
        REPAIR_STARTED_REASON,
        f"verification failed ({result.summary}): repair round {decision.round} of {limit}"
        f" in task {decision.task_id}",
    )
    await decomposition.create_task(ctx, decision.sequence, decision.definition)
    brief = PlannedTask(id=decision.task_id, slug=str(decision.definition["slug"]), role="repair")
    await set_phase(
        ctx,
        "executing",
        f"repair round {decision.round} of {limit}: {result.summary}",
        plan=Plan(
            tasks=[*plan.tasks, brief],
            mergeOrder=[*plan.merge_order, decision.task_id],
            verifyCommand=plan.verify_command,
        ),
        repair=RepairStatus(round=decision.round, maxRounds=limit),
    )
    await decomposition.load_tasks(ctx)
    await update_summary(ctx)
