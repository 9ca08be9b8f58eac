"""Retries reuse finished work: a retried run's unchanged tasks are taken over, not run.

A retry (spec.retryOf; spec.reuse true, the default) first takes over the retried
run's plan instead of asking the planner (decomposition.py): the same definitions
are what make its tasks comparable. Then, when a task is ready to start, it is
taken over without calling an agent if it succeeded in the retried run with the
same definition, the same spec version, the same start (main as the retried run
found it or as its own merge left it) and the same commits of its dependencies
here as there (core.reusable). So only failed, cancelled and affected tasks run
again: a task whose dependency ran again gets a new input commit and runs too.

Taking over a task: its branch (feat/run-<N>/...) is created at the earlier
commit, so the merge and the verification of this run are what they would be had
it run; the Task succeeds with reason Reused, status.reusedFrom <run>/<task>, the
earlier result and base commit; the journal gets TASK_REUSED then TASK_COMPLETED
(reused: true); its log (attempt 1, no worker) says where the work came from.

Idempotent: a task is taken over only while pending or queued, the branch is
created only when absent (or found at that commit), the events are keyed.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from pathlib import Path

from prazium_kit import ids, journal, kube, logs, paths, resources
from prazium_kit.models import (
    RunSpec,
    RunStatus,
    TaskResult,
    TaskStatus,
    spec_of,
    status_of,
)
from prazium_kit.timefmt import utc_now
from prazium_kit.types import Obj
from prazium_operator import gitrepo, retention
from prazium_operator.reconcilers.run import core
from prazium_operator.reconcilers.run.context import (
    RunContext,
    TaskState,
    apiserver,
    k8s_event_later,
    views,
)
from prazium_operator.reconcilers.run.tasks import succeed
from prazium_operator.status.task import REUSED

log = logging.getLogger(__name__)


async def earlier_run(ctx: RunContext) -> core.EarlierRun | None:
    """The retried run, read once per daemon, when this run may reuse its work."""
    if ctx.earlier_read:
        return ctx.earlier
    retry_of = ctx.spec.retry_of
    if retry_of and ctx.spec.reuse:
        run = await apiserver(ctx, resources.get, ctx.ns, kube.RUNS, retry_of)
        if run is not None:
            selector = f"{kube.LABEL_RUN}={retry_of}"
            tasks = await apiserver(ctx, resources.list_by_label, ctx.ns, kube.TASKS, selector)
        else:  # pruned by retention: its record and its Tasks' are in the run archive
            run = await asyncio.to_thread(retention.archived_run, ctx.settings, ctx.ns, retry_of)
            tasks = (
                await asyncio.to_thread(retention.archived_tasks, ctx.settings, ctx.ns, retry_of)
                if run is not None
                else []
            )
        if run is not None:
            ctx.earlier = earlier_of(run, tasks)
    ctx.earlier_read = True
    return ctx.earlier


def earlier_of(run: Obj, tasks: list[Obj]) -> core.EarlierRun:
    """A run and its Tasks as reuse compares them (tasks in the run's plan order)."""
    status = status_of(run, RunStatus)
    by_id: dict[str, core.EarlierTask] = {}
    for body in tasks:
        definition = dict((body.get("spec") or {}).get("definition") or {})
        task_status = status_of(body, TaskStatus)
        result = task_status.result
        by_id[str(definition.get("id"))] = core.EarlierTask(
            id=str(definition.get("id")),
            definition=definition,
            phase=task_status.phase or "pending",
            commit=result.commit_sha if result else None,
            base_commit=task_status.base_commit,
            files_created=tuple(result.files_created) if result else (),
            files_modified=tuple(result.files_modified) if result else (),
        )
    plan = status.plan
    order = [t.id for t in plan.tasks] if plan else []
    ordered = {task_id: by_id[task_id] for task_id in order if task_id in by_id}
    return core.EarlierRun(
        name=str(run["metadata"]["name"]),
        project=spec_of(run, RunSpec).project_ref.name,
        spec_version=status.spec_snapshot.version if status.spec_snapshot else None,
        base_commit=status.base_commit,
        merged_commit=status.merged_commit,
        tasks=ordered,
        merge_order=tuple(plan.merge_order) if plan else (),
        verify_command=tuple(plan.verify_command) if plan else (),
        complete=len(ordered) == len(order),
    )


async def plan_to_take_over(ctx: RunContext) -> Obj | None:
    """The retried run's plan (without its repair tasks), or None: ask the planner."""
    earlier = await earlier_run(ctx)
    if earlier is None or earlier.project != ctx.project:
        return None
    return core.retried_plan(earlier)


async def take_over_ready(ctx: RunContext) -> int:
    """Take over every ready task the retried run finished unchanged; how many."""
    earlier = await earlier_run(ctx)
    snapshot = ctx.status.spec_snapshot
    if (
        earlier is None
        or not ctx.status.base_commit
        or not core.same_start(
            earlier,
            ctx.project,
            snapshot.version if snapshot else None,
            ctx.status.base_commit,
        )
    ):
        return 0
    taken = 0
    for task_id in core.ready_tasks(views(ctx)):
        task = ctx.tasks[task_id]
        inputs = {dep: _commit(ctx.tasks[dep]) for dep in task.definition.dependencies}
        before = core.reusable(task.definition.as_stored(), inputs, earlier)
        if before is None or not await _branch_at(ctx, task, str(before.commit)):
            continue
        await _take_over(ctx, task, earlier, before)
        taken += 1
    return taken


def _commit(task: TaskState) -> str | None:
    return task.status.result.commit_sha if task.status.result else None


def _branch(ctx: RunContext, task: TaskState) -> str:
    assert ctx.status.run_number is not None
    return ids.branch_name(ctx.status.run_number, task.id, task.definition.slug)


async def _branch_at(ctx: RunContext, task: TaskState, commit: str) -> bool:
    """The task's branch at the earlier commit: created, or found there already (a
    restart). False when the commit is gone from the repository or the branch points
    elsewhere: the task then runs."""

    def point() -> bool:
        if gitrepo.rev_parse(ctx.repo, commit) != commit:
            return False
        branch = _branch(ctx, task)
        now = gitrepo.rev_parse(ctx.repo, gitrepo.branch_ref(branch))
        if now is None:
            gitrepo.update_ref(ctx.repo, branch, commit, None)
            return True
        return now == commit

    try:
        return await asyncio.to_thread(point)
    except gitrepo.GitError as exc:
        log.warning("run %s/%s: cannot reuse %s: %s", ctx.ns, ctx.name, task.id, exc)
        return False


async def _take_over(
    ctx: RunContext, task: TaskState, earlier: core.EarlierRun, before: core.EarlierTask
) -> None:
    commit = str(before.commit)
    source = f"{earlier.name}/{task.id}"
    message = (
        f"reused {commit[:12]} from run {earlier.name} ({task.id}): its definition, spec"
        " version and inputs are unchanged, so no agent was called"
    )
    await asyncio.to_thread(_write_log, ctx, task, message)
    reused_from = {"runId": ids.run_id(earlier.name), "taskId": ids.task_id(task.id)}
    now = utc_now()
    await succeed(
        ctx,
        task,
        TaskResult(
            filesCreated=list(before.files_created),
            filesModified=list(before.files_modified),
            commitSha=commit,
        ),
        duration_seconds=0.0,
        lead=[
            (
                journal.TASK_REUSED,
                {
                    "taskId": ids.task_id(task.id),
                    "slug": task.definition.slug,
                    "reusedFrom": reused_from,
                    "commitSha": commit,
                },
                task.id,
            )
        ],
        completed_extra={"reused": True, "reusedFrom": reused_from},
        message=message,
        reason=REUSED,
        reused_from=source,
        attempts=1,
        branch_name=_branch(ctx, task),
        base_commit=before.base_commit,
        started_at=task.status.started_at or now,
        completed_at=now,
        duration="0s",
    )
    k8s_event_later(task.body, REUSED, message)


def _write_log(ctx: RunContext, task: TaskState, message: str) -> None:
    """The task's log (attempt 1): one line in the workers' own format, saying where
    the work came from. Formatted in an empty logging context: only these fields."""
    path = paths.task_log_path(ctx.settings.data_dir, ctx.ns, ctx.name, task.id, 1)
    record = logging.makeLogRecord(
        {
            "name": "prazium.operator.reuse",
            "levelno": logging.INFO,
            "levelname": "INFO",
            "msg": f"task {task.id} {message}",
            "namespace": ctx.ns,
            "project": ctx.project,
            "run": ctx.name,
            "task": task.id,
            "attempt": 1,
        }
    )
    formatter = logs.formatter(ctx.settings.log_format)
    line = contextvars.Context().run(formatter.format, record)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(line + "\n", encoding="utf-8")
