"""One task attempt's life: start a worker, poll it, record how it ended.

A Task's status is the record a restarted daemon resumes from (which attempt,
which executor reference), so it is written before the worker is started.
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any

from prazium_kit import ids, journal, paths, timefmt
from prazium_kit.models import AttemptUsage, ExecutorRef, TaskResult, TaskUsage
from prazium_kit.timefmt import utc_now
from prazium_kit.types import Obj
from prazium_operator import gitrepo, metrics, recorder
from prazium_operator.agents.loop import limits as loop_limits
from prazium_operator.agents.registry import agent_options
from prazium_operator.executor.base import WorkerState
from prazium_operator.reconcilers.run import budget, core
from prazium_operator.reconcilers.run import usage as run_usage
from prazium_operator.reconcilers.run.context import (
    RunContext,
    RunFailed,
    TaskState,
    agent,
    check,
    event,
    events,
    in_phase,
    k8s_event,
    k8s_event_later,
    set_task,
    set_task_phase,
    sleep,
    spec_documents,
    views,
)
from prazium_operator.status import task as task_status
from prazium_operator.worker_contract import (
    WorkerRequest,
    WorkerResult,
    read_result,
    read_worker_result,
)

# The logger name from before the split out of runner.py, so log filters keep matching.
log = logging.getLogger("prazium_operator.runner")

MAX_ATTEMPTS = 3
PHASES = task_status.PHASES


async def _request(ctx: RunContext, task: TaskState, attempt: int, base: str) -> WorkerRequest:
    data_dir = ctx.settings.data_dir
    chosen = agent(ctx)
    coder = chosen.coder
    options: Obj = {"command": chosen.command} if coder == "command" and chosen.command else {}
    options.update(agent_options(chosen.as_spec()))
    assert ctx.status.spec_snapshot is not None and ctx.status.run_number is not None
    return WorkerRequest(
        namespace=ctx.ns,
        project=ctx.project,
        run=ctx.name,
        task=task.definition.as_stored(),
        documents=await spec_documents(ctx),
        repo_path=str(ctx.repo),
        worktree=str(paths.task_worktree(data_dir, ctx.ns, ctx.project, ctx.name, task.id)),
        branch=ids.branch_name(ctx.status.run_number, task.id, task.definition.slug),
        base_commit=base,
        attempt=attempt,
        result_path=str(paths.result_path(data_dir, ctx.ns, ctx.name, task.id, attempt)),
        coder=coder,
        coder_options=options,
        credentials_secret=chosen.credentials_secret or None,
        # The coding-agent loop's bounds (PRAZIUM_AGENT_*, this operator's) and the tests
        # of a task that names none of its own (agents/loop).
        agent_limits=loop_limits.from_settings().as_request(),
        # What the run may still spend (its budget less every task's usage so far) and
        # the file that stops the attempt once the run's spend reaches the budget
        # elsewhere (budget.py).
        budget=budget.attempt_budget(ctx),
        stop_file=str(budget.stop_path(ctx)),
        verify_command=list(ctx.status.plan.verify_command) if ctx.status.plan else None,
        egress=_egress(ctx),
    )


def _egress(ctx: RunContext) -> tuple[str, ...]:
    network = ctx.project_spec.network if ctx.project_spec else None
    return tuple(network.egress) if network else ()


async def prestart_request(ctx: RunContext, task: TaskState) -> WorkerRequest:
    """The request of the task's next attempt as far as it is known before its
    dependencies are done (no base commit yet): what its Job is built from."""
    return await _request(ctx, task, (task.status.attempts or 0) + 1, "")


async def _recorded_request(ctx: RunContext, task: TaskState) -> WorkerRequest:
    """The request of the attempt the Task's status says is running."""
    return await _request(ctx, task, task.status.attempts or 1, str(task.status.base_commit))


def _ref(task: TaskState) -> ExecutorRef:
    """status.executor, for the executors to find the worker by."""
    return task.status.executor or ExecutorRef()


async def _task_base(ctx: RunContext, task: TaskState) -> str:
    """main at run start, merged with the commits of the task's dependencies; for a
    repair task the merged commit that failed its verification (it holds them all)."""
    if task.definition.is_repair:
        assert ctx.status.merged_commit is not None  # a repair round follows a merge
        return ctx.status.merged_commit
    base = str(ctx.status.base_commit)
    for dep in task.definition.dependencies:
        result = ctx.tasks[dep].status.result
        assert result is not None  # a dependency starts nothing before it succeeded
        outcome = await asyncio.to_thread(
            gitrepo.merge,
            ctx.repo,
            base,
            str(result.commit_sha),
            f"Base for {task.id}: merge {dep}",
            str(ctx.status.started_at),
        )
        if outcome.commit is None:
            raise RunFailed(
                f"the dependencies of {task.id} conflict on {', '.join(outcome.conflicts)}"
            )
        base = outcome.commit
    return base


async def start_task(ctx: RunContext, task: TaskState, attempt: int) -> None:
    base = await _task_base(ctx, task)
    request = await _request(ctx, task, attempt, base)
    # Recorded before the worker starts, so a restarted operator knows which
    # attempt (and result file) to look for.
    await set_task_phase(
        ctx,
        task,
        "running",
        f"attempt {attempt}",
        attempts=attempt,
        branch_name=request.branch,
        worktree_path=paths.volume_relative(ctx.settings.data_dir, Path(request.worktree)),
        base_commit=base,
        started_at=task.status.started_at or utc_now(),
        executor=ExecutorRef.model_validate({"kind": ctx.executor.kind}),
    )
    ref = await ctx.executor.start(request, task.body)
    ctx.prestarted.discard(task.id)  # its Job created ahead, if any, is its worker's now
    await set_task(ctx, task, executor=ref)
    k8s_event_later(
        task.body,
        PHASES["running"].event_reason,
        f"attempt {attempt} on branch {request.branch} in {describe_worker(ref)}",
    )


async def poll(ctx: RunContext, task: TaskState) -> None:
    attempt = task.status.attempts or 1
    request = await _recorded_request(ctx, task)
    ref = _ref(task)
    status = await ctx.executor.state(ref, request)
    if status.state is WorkerState.RUNNING:
        # The worker's live events (TASK_STARTED first): its file is its only channel.
        usage_events = await ingest_worker_events(ctx, request)
        live = run_usage.from_events(attempt, usage_events, ctx.settings.prices)
        await _note_progress(
            ctx,
            task,
            ref,
            status.learnt,
            status.message or f"attempt {attempt}",
            _usage_with(task, live),
        )
        return
    result = (
        read_worker_result(Path(request.result_path))
        if status.state is WorkerState.EXITED
        else None
    )
    if result is not None:
        if result.status and result.duration_seconds is not None:
            metrics.TASK_SECONDS.labels(result.status).observe(result.duration_seconds)
        # Before the task's own outcome event: the worker's events (TASK_STARTED, files)
        # from its event file and its result file. Keyed: those written are skipped.
        await ingest_worker_events(ctx, request, final=True)
    learnt = ref.model_copy(update=status.learnt.model_dump(exclude_none=True))
    if learnt != ref:  # the Pod of a worker that finished before it was first seen
        await set_task(ctx, task, executor=learnt)
    # The result is on the shared volume now (or there is none): the worker's Job,
    # if any, has nothing more to tell. A retry is a new Job (attempt + 1).
    await ctx.executor.release(ref, request)
    # The attempt's usage: from its result (the loop's own sum), else what its events
    # reported before it was lost (they are in the journal too).
    ended = (
        run_usage.from_result(attempt, result, ctx.settings.prices)
        if result is not None
        else run_usage.from_events(attempt, await _usage_events(request), ctx.settings.prices)
    )
    if ended is not None and result is not None:
        metrics.count_tokens(ended, request.coder, [agent(ctx).model, *ctx.settings.prices])
    usage = _usage_with(task, ended)
    if status.state is WorkerState.FAILED:
        await _fail_task(ctx, task, status.message or "the worker failed", usage=usage)
        return
    if result is None:
        why = f" ({status.message})" if status.message else ""
        if attempt < MAX_ATTEMPTS:
            delay = lost_worker_delay(ctx.settings.lost_worker_backoff_seconds, attempt)
            log.warning(
                "worker of %s attempt %s lost%s; retrying in %.1f s",
                task.name,
                attempt,
                why,
                delay,
                extra=request.log_fields(),
            )
            await k8s_event(task.body, "Retrying", f"attempt {attempt} lost{why}", warning=True)
            if usage is not None:
                await set_task(ctx, task, usage=usage)
            await sleep(ctx, delay)
            check(ctx)
            await start_task(ctx, task, attempt + 1)
        else:
            await _fail_task(
                ctx, task, f"the worker exited without a result {attempt} times{why}", usage=usage
            )
        return
    if result.status == "succeeded" and result.commit_sha:
        await _complete_task(ctx, task, result, usage)
    else:
        # The loop's stop reason (BudgetExceeded, StepLimit, ...) is the failed
        # condition's reason, more precise than Failed.
        stop = result.reason if result.reason and result.reason != "Finished" else None
        await _fail_task(ctx, task, result.error or "the worker failed", stop, usage=usage)


def _usage_with(task: TaskState, attempt: AttemptUsage | None) -> TaskUsage | None:
    """The Task's usage with this attempt's entry (None: unchanged)."""
    if attempt is None:
        return task.status.usage
    return run_usage.with_attempt(task.status.usage, attempt)


async def _usage_events(request: WorkerRequest) -> list[Obj]:
    """The checked AGENT_USAGE events of the attempt's event file."""
    items = await asyncio.to_thread(
        recorder.read_event_file, recorder.events_path(Path(request.result_path))
    )
    return _checked_usage(items, request)


def _checked_usage(items: list[Obj], request: WorkerRequest) -> list[Obj]:
    usage = [item for item in items if item.get("type") == journal.AGENT_USAGE]
    return recorder.worker_events(usage, _identity(request)) if usage else []


def _identity(request: WorkerRequest) -> recorder.WorkerIdentity:
    return recorder.WorkerIdentity(
        namespace=request.namespace,
        project=request.project,
        run=request.run,
        task=request.task_id,
        attempt=request.attempt,
        slug=request.task.get("slug"),
        branch=request.branch,
    )


async def _note_progress(
    ctx: RunContext,
    task: TaskState,
    ref: ExecutorRef,
    learnt: ExecutorRef,
    message: str,
    usage: TaskUsage | None = None,
) -> None:
    """Record what changed about a running worker (its Pod, why it waits, the usage its
    requests reported), once."""
    fields: dict[str, object] = {}
    merged = ref.model_copy(update=learnt.model_dump(exclude_none=True))
    if merged != ref:
        fields["executor"] = merged
    if message != task.status.message:
        fields["message"] = message
    if usage != task.status.usage:
        fields["usage"] = usage
    if fields:
        await set_task(ctx, task, **fields)


def lost_worker_delay(base: float, attempt: int) -> float:
    """The wait before re-running attempt + 1 of a lost worker: base doubled per lost
    attempt, jittered, so a cause that outlives one attempt (a node, the database) is
    not met by the remaining attempts within seconds."""
    ceiling = base * 2 ** (attempt - 1)
    return random.uniform(ceiling / 2, ceiling)


# Per event file: how many of its lines are in the journal already (a restarted operator
# starts from 0 again; the events' keys make that harmless).
_ingested: dict[str, int] = {}


async def ingest_worker_events(
    ctx: RunContext, request: WorkerRequest, final: bool = False
) -> list[Obj]:
    """Write the worker's new events to the journal, checked (recorder.worker_events):
    from its event file while it runs; at the end also those its result file kept.
    Returns the file's AGENT_USAGE events so far, checked (the attempt's live usage)."""
    result_path = Path(request.result_path)
    file = recorder.events_path(result_path)
    items = await asyncio.to_thread(recorder.read_event_file, file)
    done = _ingested.get(str(file), 0)
    fresh = items[done:]
    if final:
        fresh = fresh + recorder.result_events(read_result(result_path))
        _ingested.pop(str(file), None)
    accepted = recorder.worker_events(fresh, _identity(request))
    if accepted:
        await asyncio.to_thread(
            recorder.write,
            ctx.settings.database_url,
            accepted,
            retry_seconds=ctx.settings.db_retry_seconds,
        )
    if not final:
        _ingested[str(file)] = len(items)
    return _checked_usage(items, request)


async def _complete_task(
    ctx: RunContext, task: TaskState, result: WorkerResult, usage: TaskUsage | None
) -> None:
    """Record a worker's result as the Task's result."""
    commit = str(result.commit_sha)
    outcome = TaskResult(
        filesCreated=result.files_created, filesModified=result.files_modified, commitSha=commit
    )
    await succeed(ctx, task, outcome, duration_seconds=result.duration_seconds, usage=usage)
    k8s_event_later(
        task.body,
        PHASES["succeeded"].event_reason,
        f"committed {commit[:12]} on {task.status.branch_name}: "
        f"{len(outcome.files_created)} files created, {len(outcome.files_modified)} modified"
        f" in {task.status.duration or '?'}",
    )


async def succeed(
    ctx: RunContext,
    task: TaskState,
    outcome: TaskResult,
    *,
    duration_seconds: float | None,
    lead: list[tuple[str, Obj, str | None]] | None = None,
    completed_extra: Obj | None = None,
    message: str = "",
    reason: str | None = None,
    **fields: Any,
) -> None:
    """A task succeeded with outcome: its TASK_COMPLETED (after the lead events), and
    the tasks it was the last dependency of queued, in one step; then the statuses."""
    following = [ctx.tasks[task_id] for task_id in core.queued_with(views(ctx), task.id)]
    # The journal first, then the status (here and in the other task transitions): an
    # operator killed in between finds the task still in its old phase and does the
    # step again, the event deduplicated by its key. The other way round the event
    # would be lost, as the new phase is never entered twice. The dependents' queueing
    # is in the same journal write: redone the same way, it never waits for the
    # apiserver (with many runs at once, each call waits its turn).
    completed = {
        "taskId": ids.task_id(task.id),
        "status": "succeeded",
        "slug": task.definition.slug,
        "commitSha": outcome.commit_sha,
        "filesCreated": len(outcome.files_created),
        "filesModified": len(outcome.files_modified),
        "durationSeconds": duration_seconds,
        **(completed_extra or {}),
    }
    await events(
        ctx,
        [
            *(lead or []),
            (PHASES["succeeded"].journal_type, completed, task.id),
            *map(_queued_event, following),
        ],
    )
    await asyncio.gather(
        set_task_phase(
            ctx, task, "succeeded", message, reason, result=outcome, **{**_ended(task), **fields}
        ),
        *(set_task_phase(ctx, t, "queued", "dependencies done") for t in following),
    )


async def queue_tasks(ctx: RunContext, tasks: list[TaskState]) -> None:
    """pending -> queued for tasks whose dependencies succeeded: their TASK_QUEUED
    events in one journal write, then their statuses (a crash in between queues them
    again, the events deduplicated by their keys)."""
    if not tasks:
        return
    await events(ctx, [_queued_event(task) for task in tasks])
    await asyncio.gather(
        *(set_task_phase(ctx, task, "queued", "dependencies done") for task in tasks)
    )


def _queued_event(task: TaskState) -> tuple[str, Obj, str]:
    payload: Obj = {"taskId": ids.task_id(task.id), "slug": task.definition.slug}
    return (PHASES["queued"].journal_type, payload, task.id)


def _ended(task: TaskState) -> dict[str, str | None]:
    """completedAt and the duration shown in the DURATION column, for a final phase."""
    now = utc_now()
    return {"completed_at": now, "duration": timefmt.duration(task.status.started_at, now)}


def describe_worker(ref: ExecutorRef) -> str:
    """Where a worker runs, in words for a Kubernetes Event (not the raw reference)."""
    if ref.kind == "kubernetes":
        pod = f", pod {ref.pod}" if ref.pod else ""
        return f"Job {ref.name or '?'}{pod}"
    if ref.pid:
        return f"local process {ref.pid}"
    return str(ref.kind or "worker")


async def _fail_task(
    ctx: RunContext,
    task: TaskState,
    message: str,
    reason: str | None = None,
    *,
    usage: TaskUsage | None = None,
) -> None:
    payload: Obj = {"taskId": ids.task_id(task.id), "status": "failed", "error": message}
    if reason:
        payload["reason"] = reason
    await event(ctx, PHASES["failed"].journal_type, payload, task=task.id)
    await set_task_phase(ctx, task, "failed", message, reason, usage=usage, **_ended(task))
    k8s_event_later(
        task.body, PHASES["failed"].event_reason, message, warning=PHASES["failed"].warning
    )


async def cancel_task(ctx: RunContext, task: TaskState, message: str) -> None:
    await event(
        ctx,
        PHASES["cancelled"].journal_type,
        {"taskId": ids.task_id(task.id), "status": "cancelled", "reason": message},
        task=task.id,
    )
    await set_task_phase(ctx, task, "cancelled", message, **_ended(task))


async def stop_running_tasks(ctx: RunContext) -> None:
    for task in in_phase(ctx, "running"):
        await ctx.executor.stop(_ref(task), await _recorded_request(ctx, task))
