"""merging and verifying: the task branches into main, then the plan's verifyCommand.

main moves only by compare-and-swap, so a spec approval landing meanwhile is merged
over instead of overwritten. A failed verification may start a repair round
(repair.py): the run goes back to executing with a repair Task, then merges (the
tasks merged before are in main already: only the repair's commit moves it) and
verifies again. The journal events of a round after the first carry its number in
their keys, so each round tells its own story once.
"""

from __future__ import annotations

import asyncio
import time

from prazium_kit import ids, journal, paths
from prazium_operator import gitrepo, metrics, policy_gate, verify
from prazium_operator.executor import verification
from prazium_operator.reconcilers.run import core, prestart, repair
from prazium_operator.reconcilers.run.context import (
    RunContext,
    RunFailed,
    agent,
    check,
    event,
    k8s_event,
    set_phase,
    set_status,
)
from prazium_operator.status import run as run_status

MERGE_ATTEMPTS = 10


async def merge(ctx: RunContext) -> None:
    check(ctx)
    # The verification's Pod starts while the merge runs (if it was not created ahead
    # while the last tasks ran).
    await prestart.prestart_verification(ctx)
    plan = ctx.status.plan
    assert plan is not None
    row = run_status.PHASES["merging"]
    round_ = repair.rounds_done(ctx)
    await event(
        ctx,
        row.journal_type,
        {"mergeOrder": plan.merge_order, **repair.round_field(round_)},
        extra=round_ or None,
    )
    await k8s_event(
        ctx.run,
        row.event_reason,
        f"merging the repair of round {round_} into main"
        if round_
        else "merging task branches into main",
    )
    started = time.monotonic()
    merged = None
    for _ in range(MERGE_ATTEMPTS):
        main = await asyncio.to_thread(gitrepo.rev_parse, ctx.repo, gitrepo.MAIN)
        assert main is not None
        current = main
        for task_id in plan.merge_order:
            task = ctx.tasks[task_id]
            assert task.status.result is not None
            outcome = await asyncio.to_thread(
                gitrepo.merge,
                ctx.repo,
                current,
                str(task.status.result.commit_sha),
                f"Merge {task_id} {task.definition.slug} (run {ctx.status.run_number})",
                str(ctx.status.started_at),
            )
            if outcome.commit is None:
                await event(
                    ctx,
                    journal.MERGE_CONFLICT,
                    {"taskId": ids.task_id(task_id), "paths": outcome.conflicts},
                    task=task_id,
                )
                raise RunFailed(
                    core.run_outcome(
                        merge_conflict=core.MergeConflict(task.view(), outcome.conflicts)
                    ).message
                )
            current = outcome.commit
        check(ctx)  # last point where cancel leaves main untouched
        if current != main:
            try:
                await asyncio.to_thread(gitrepo.update_ref, ctx.repo, gitrepo.MAIN, current, main)
            except gitrepo.GitError:
                continue  # main moved (a spec approval landed): merge again on top
        merged = current
        break
    if merged is None:
        raise RunFailed("main kept moving while merging")
    metrics.MERGE_SECONDS.observe(time.monotonic() - started)
    await set_status(ctx, merged_commit=merged)
    await event(
        ctx,
        journal.MERGE_COMPLETED,
        {"mergedCommit": merged, **repair.round_field(round_)},
        extra=round_ or None,
    )
    await k8s_event(
        ctx.run,
        "Merged",
        f"merged {len(plan.merge_order)} task branches into main at {merged[:12]}",
    )
    await set_phase(ctx, "verifying")


async def verify_merged(ctx: RunContext) -> core.Outcome | None:
    """The run's outcome once verified; None when a repair round started (the run is
    executing again)."""
    check(ctx)
    command = list(ctx.status.plan.verify_command if ctx.status.plan else [])
    if not command:
        await set_status(ctx, verification_result=None)
        return core.run_outcome()
    round_ = repair.rounds_done(ctx)
    await event(
        ctx,
        run_status.PHASES["verifying"].journal_type,
        {"command": command, **repair.round_field(round_)},
        extra=round_ or None,
    )
    # Untrusted code: never in the operator's process or environment (its database DSN,
    # kubeconfig and LLM keys would be the tests' to read).
    try:
        result = await verify.verify(
            ctx.repo,
            str(ctx.status.merged_commit),
            command,
            ctx.settings.verify_timeout_seconds,
            prestart.verification_runner(ctx)
            or verification.runner(ctx.settings, ctx.ns, ctx.project, ctx.name),
            log_file=paths.verification_log_path(ctx.settings.data_dir, ctx.ns, ctx.name),
            log_max_bytes=ctx.settings.task_log_max_bytes,
        )
    except policy_gate.NotEnforced as exc:
        # The tests never ran (so there is nothing for a repair round to fix).
        raise RunFailed(f"verification did not run: {exc}") from exc
    prestart.verified(ctx)
    metrics.VERIFICATION_SECONDS.labels("passed" if result.exit_code == 0 else "failed").observe(
        result.duration_seconds or 0.0
    )
    # The output goes to the journal, not into status: status stays short enough for
    # `kubectl describe run` (the journal event is the reference to the full tail).
    await set_status(ctx, verification_result=result.model_copy(update={"output_tail": None}))
    dumped = result.model_dump(by_alias=True)
    await event(
        ctx,
        journal.VERIFICATION_COMPLETED,
        {
            **{
                key: dumped[key]
                for key in (
                    "exitCode",
                    "passed",
                    "failed",
                    "summary",
                    "durationSeconds",
                    "outputTail",
                )
            },
            **repair.round_field(round_),
        },
        extra=round_ or None,
    )
    await k8s_event(
        ctx.run,
        "Verified" if result.exit_code == 0 else "VerificationFailed",
        f"{' '.join(command)}: {result.summary}",
        warning=result.exit_code != 0,
    )
    assert ctx.status.merged_commit is not None
    decision = core.after_verification(
        result,
        rounds_done=round_,
        max_rounds=repair.max_rounds(ctx),
        coder=agent(ctx).coder,
        tasks=[task.definition for task in ctx.tasks.values()],
        merged_commit=ctx.status.merged_commit,
    )
    if isinstance(decision, core.RepairRound):
        await repair.start_round(ctx, decision, result)
        return None
    if decision.phase == "failed":
        raise RunFailed(decision.message, decision.reason)
    return decision
