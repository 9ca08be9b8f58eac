"""merging and verifying: the task branches into main, then the plan's verifyCommand.

main moves only by compare-and-swap, so a spec approval landing meanwhile is merged
over instead of overwritten.
"""

from __future__ import annotations

import asyncio

from prazium_kit import ids, journal, paths
from prazium_operator import gitrepo, verify
from prazium_operator.runflow.context import (
    RunContext,
    RunFailed,
    check,
    event,
    k8s_event,
    set_phase,
    set_status,
)

MERGE_ATTEMPTS = 10


async def merge(ctx: RunContext) -> None:
    check(ctx)
    plan = ctx.status["plan"]
    await event(ctx, journal.MERGE_STARTED, {"mergeOrder": plan["mergeOrder"]})
    await k8s_event(ctx.run, "Merging", "merging task branches into main")
    merged = None
    for _ in range(MERGE_ATTEMPTS):
        main = await asyncio.to_thread(gitrepo.rev_parse, ctx.repo, gitrepo.MAIN)
        assert main is not None
        current = main
        for task_id in plan["mergeOrder"]:
            task = ctx.tasks[task_id]
            commit = task.status["result"]["commitSha"]
            outcome = await asyncio.to_thread(
                gitrepo.merge, ctx.repo, current, commit,
                f"Merge {task_id} {task.definition['slug']} (run {ctx.status['runNumber']})",
                str(ctx.status["startedAt"]))
            if outcome.commit is None:
                await event(ctx, journal.MERGE_CONFLICT, {
                    "taskId": ids.task_id(task_id), "paths": outcome.conflicts},
                    task=task_id)
                raise RunFailed(f"merging {task_id} ({task.definition['slug']}) into main"
                                f" conflicts on: {', '.join(outcome.conflicts)}")
            current = outcome.commit
        check(ctx)  # last point where cancel leaves main untouched
        if current != main:
            try:
                await asyncio.to_thread(gitrepo.update_ref, ctx.repo, gitrepo.MAIN,
                                        current, main)
            except gitrepo.GitError:
                continue  # main moved (a spec approval landed): merge again on top
        merged = current
        break
    if merged is None:
        raise RunFailed("main kept moving while merging")
    await set_status(ctx, mergedCommit=merged)
    await event(ctx, journal.MERGE_COMPLETED, {"mergedCommit": merged})
    await set_phase(ctx, "verifying")


async def verify_merged(ctx: RunContext) -> None:
    check(ctx)
    command = list(ctx.status["plan"].get("verifyCommand") or [])
    if not command:
        await set_status(ctx, verificationResult=None)
        return
    await event(ctx, journal.VERIFICATION_STARTED, {"command": command})
    workdir = paths.task_worktree(ctx.settings.data_dir, ctx.ns, ctx.project, ctx.name,
                                  "verify")
    result = await verify.verify(ctx.repo, ctx.status["mergedCommit"], command, workdir,
                                 ctx.settings.verify_timeout_seconds)
    await set_status(ctx, verificationResult=result)
    await event(ctx, journal.VERIFICATION_COMPLETED, {
        key: result[key] for key in ("exitCode", "passed", "failed", "summary",
                                     "durationSeconds")})
    if result["exitCode"] != 0:
        raise RunFailed(f"verification failed: {result['summary']}")
