"""One task attempt's life: start a worker, poll it, record how it ended.

A Task's status is the record a restarted daemon resumes from (which attempt,
which executor reference), so it is written before the worker is started.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from prazium_operator import conditions, gitrepo, ids, journal, kube, paths, resources
from prazium_operator.agents.registry import agent_options
from prazium_operator.executor.base import WorkerState
from prazium_operator.runflow.context import (
    RunContext,
    RunFailed,
    TaskState,
    agent,
    event,
    in_phase,
    k8s_event,
)
from prazium_operator.worker.request import WorkerRequest, read_result

# The logger name from before the split out of runner.py, so log filters keep matching.
log = logging.getLogger("prazium_operator.runner")

MAX_ATTEMPTS = 3


async def set_task(ctx: RunContext, task: TaskState, **fields: Any) -> None:
    task.status.update(fields)
    await asyncio.to_thread(resources.patch_status, ctx.ns, kube.TASKS, task.name, fields)


def _request(ctx: RunContext, task: TaskState, attempt: int, base: str) -> WorkerRequest:
    data_dir = ctx.settings.data_dir
    chosen = agent(ctx)
    coder = chosen.get("coder") or "template"
    options = {"command": chosen["command"]} \
        if coder == "command" and chosen.get("command") else {}
    options.update(agent_options(chosen))
    return WorkerRequest(
        namespace=ctx.ns, project=ctx.project, run=ctx.name, task=task.definition,
        documents=ctx.status["specSnapshot"]["documents"], repo_path=str(ctx.repo),
        worktree=str(paths.task_worktree(data_dir, ctx.ns, ctx.project, ctx.name, task.id)),
        branch=ids.branch_name(int(ctx.status["runNumber"]), task.id,
                               task.definition["slug"]),
        base_commit=base, attempt=attempt,
        result_path=str(paths.result_path(data_dir, ctx.ns, ctx.name, task.id, attempt)),
        coder=coder, coder_options=options,
        credentials_secret=chosen.get("credentialsSecret") or None,
    )


def _recorded_request(ctx: RunContext, task: TaskState) -> WorkerRequest:
    """The request of the attempt the Task's status says is running."""
    attempt = int(task.status.get("attempts") or 1)
    return _request(ctx, task, attempt, str(task.status.get("baseCommit")))


async def _task_base(ctx: RunContext, task: TaskState) -> str:
    """main at run start, merged with the commits of the task's dependencies."""
    base = str(ctx.status["baseCommit"])
    for dep in task.definition.get("dependencies", []):
        dep_commit = str(ctx.tasks[dep].status["result"]["commitSha"])
        outcome = await asyncio.to_thread(
            gitrepo.merge, ctx.repo, base, dep_commit,
            f"Base for {task.id}: merge {dep}", str(ctx.status["startedAt"]))
        if outcome.commit is None:
            raise RunFailed(f"the dependencies of {task.id} conflict on "
                            f"{', '.join(outcome.conflicts)}")
        base = outcome.commit
    return base


async def start_task(ctx: RunContext, task: TaskState, attempt: int) -> None:
    base = await _task_base(ctx, task)
    request = _request(ctx, task, attempt, base)
    # Recorded before the worker starts, so a restarted operator knows which
    # attempt (and result file) to look for.
    await set_task(
        ctx, task, phase="running", attempts=attempt, branchName=request.branch,
        worktreePath=request.worktree, baseCommit=base, message=f"attempt {attempt}",
        startedAt=task.status.get("startedAt") or conditions.now_iso(),
        executor={"kind": ctx.executor.kind})
    ref = await ctx.executor.start(request, task.body)
    await set_task(ctx, task, executor=ref)
    await k8s_event(task.body, "Started", f"attempt {attempt} on {request.branch} ({ref})")


async def poll(ctx: RunContext, task: TaskState) -> None:
    attempt = int(task.status.get("attempts") or 1)
    request = _recorded_request(ctx, task)
    ref = task.status.get("executor") or {}
    status = await ctx.executor.state(ref, request)
    if status.state is WorkerState.RUNNING:
        await _note_progress(ctx, task, ref, status.ref, status.message or f"attempt {attempt}")
        return
    result = read_result(Path(request.result_path)) \
        if status.state is WorkerState.EXITED else None
    # The result is on the shared volume now (or there is none): the worker's Job,
    # if any, has nothing more to tell. A retry is a new Job (attempt + 1).
    await ctx.executor.release(ref, request)
    if status.state is WorkerState.FAILED:
        await _fail_task(ctx, task, status.message or "the worker failed")
        return
    if result is None:
        why = f" ({status.message})" if status.message else ""
        if attempt < MAX_ATTEMPTS:
            log.warning("worker of %s attempt %s lost%s; retrying", task.name, attempt, why,
                        extra=request.log_fields())
            await k8s_event(task.body, "Retrying", f"attempt {attempt} lost{why}",
                            warning=True)
            await start_task(ctx, task, attempt + 1)
        else:
            await _fail_task(ctx, task, f"the worker exited without a result {attempt} times"
                                        f"{why}")
        return
    if result.get("status") == "succeeded":
        await _complete_task(ctx, task, result)
    else:
        await _fail_task(ctx, task, str(result.get("error") or "the worker failed"))


async def _note_progress(ctx: RunContext, task: TaskState, ref: dict[str, Any],
                         learnt: dict[str, Any], message: str) -> None:
    """Record what changed about a running worker (its Pod, why it waits), once."""
    fields: dict[str, Any] = {}
    merged = {**ref, **learnt}
    if merged != ref:
        fields["executor"] = merged
    if message != task.status.get("message"):
        fields["message"] = message
    if fields:
        await set_task(ctx, task, **fields)


async def _complete_task(ctx: RunContext, task: TaskState, result: dict[str, Any]) -> None:
    outcome = {"filesCreated": result.get("filesCreated", []),
               "filesModified": result.get("filesModified", []),
               "commitSha": result["commitSha"]}
    await set_task(ctx, task, phase="succeeded", result=outcome,
                   completedAt=conditions.now_iso(), message="")
    await event(ctx, journal.TASK_COMPLETED, {
        "taskId": ids.task_id(task.id), "status": "succeeded", "slug":
        task.definition["slug"], "commitSha": outcome["commitSha"],
        "filesCreated": len(outcome["filesCreated"]),
        "filesModified": len(outcome["filesModified"]),
        "durationSeconds": result.get("durationSeconds")}, task=task.id)
    await k8s_event(task.body, "Succeeded", f"commit {outcome['commitSha'][:12]}")


async def _fail_task(ctx: RunContext, task: TaskState, message: str) -> None:
    await set_task(ctx, task, phase="failed", message=message,
                   completedAt=conditions.now_iso())
    await event(ctx, journal.TASK_FAILED, {"taskId": ids.task_id(task.id),
                                           "status": "failed", "error": message},
                task=task.id)
    await k8s_event(task.body, "Failed", message, warning=True)


async def cancel_task(ctx: RunContext, task: TaskState, message: str) -> None:
    await set_task(ctx, task, phase="cancelled", message=message,
                   completedAt=conditions.now_iso())
    await event(ctx, journal.TASK_CANCELLED, {"taskId": ids.task_id(task.id),
                                              "status": "cancelled", "reason": message},
                task=task.id)


async def stop_running_tasks(ctx: RunContext) -> None:
    for task in in_phase(ctx, "running"):
        await ctx.executor.stop(task.status.get("executor") or {},
                                _recorded_request(ctx, task))
