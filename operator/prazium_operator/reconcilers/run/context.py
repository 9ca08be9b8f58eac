"""What one Run's daemon knows while it drives the Run, and the writes all phases share.

The Run's spec and status, its Project's spec and status and its Tasks' statuses
are parsed into their models once, when the daemon reads them; the phases work on
those. Status lives in two places on purpose: ``ctx.status`` is the driver's own
copy (read back without a round trip), and every change is also patched to the
Run, because after an operator restart the Run's status is all there is to resume
from.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import kopf

from prazium_kit import kube, paths, resources
from prazium_kit.models import (
    PlannedTask,
    ProjectAgent,
    ProjectSpec,
    ProjectStatus,
    RunPhase,
    RunSpec,
    RunStatus,
    TaskPhase,
    TaskStatus,
    status_patch,
)
from prazium_kit.types import Obj
from prazium_operator import kevents, recorder, retrying
from prazium_operator.executor.base import Executor
from prazium_operator.reconcilers.project import spec as project_spec
from prazium_operator.reconcilers.project import state as project_state
from prazium_operator.reconcilers.run.core import EarlierRun, TaskView, summary_of
from prazium_operator.reconcilers.run.usage import run_total
from prazium_operator.reconcilers.run.wakeup import Key, Wakeups
from prazium_operator.settings import Settings
from prazium_operator.status import run as run_status
from prazium_operator.status import task as task_status

T = TypeVar("T")


class RunFailed(Exception):
    """The run fails with this message; reason, when given, is its conditions' reason
    instead of Failed (RepairRoundsExhausted, RepairFailed)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class RunCancelled(Exception):
    pass


class Stopped(Exception):
    """The daemon must exit (operator exiting or Run deleted); nothing is written."""


@dataclass
class TaskState:
    definition: PlannedTask
    body: Obj  # the Task as read: the object Kubernetes Events and Jobs refer to
    status: TaskStatus

    @property
    def id(self) -> str:
        return self.definition.id

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def generation(self) -> int | None:
        generation = self.body["metadata"].get("generation")
        return int(generation) if generation is not None else None

    @property
    def phase(self) -> TaskPhase:
        return self.status.phase or "pending"

    def view(self) -> TaskView:
        return TaskView(
            id=self.id,
            slug=self.definition.slug,
            phase=self.phase,
            dependencies=tuple(self.definition.dependencies),
            message=self.status.message or "",
            repair=self.definition.is_repair,
        )


@dataclass
class RunContext:
    ns: str
    name: str
    live: kopf.Body  # kopf keeps it current: spec.cancel arrives here
    executor: Executor
    settings: Settings
    stopped: kopf.DaemonStopped
    wakeups: Wakeups  # the operator's: when to look again (reconcilers/run/wakeup.py)
    run: Obj  # the Run as read (metadata for owner references and Events)
    spec: RunSpec
    status: RunStatus
    project_spec: ProjectSpec | None = None
    project_status: ProjectStatus = field(default_factory=ProjectStatus)
    tasks: dict[str, TaskState] = field(default_factory=dict)
    observed: int | None = None
    documents: dict[str, str] | None = None  # the spec snapshot's, once read (spec_documents)
    # The run a retry may reuse the work of (reuse.py), once read; None: nothing to reuse.
    earlier: EarlierRun | None = None
    earlier_read: bool = False
    # Tasks whose Job was created ahead, its Pod waiting for the go signal (prestart.py);
    # found again after a restart once (prestart_adopted); the verification's too.
    prestarted: set[str] = field(default_factory=set)
    prestart_adopted: bool = False
    # Task id -> when this operator last wrote its "waiting in the operator's queue"
    # message (scheduler._note_waiting rewrites it at most so often).
    waiting_noted: dict[str, float] = field(default_factory=dict)
    verification_prestarted: bool = False

    @property
    def key(self) -> Key:
        return (self.ns, self.name)

    @property
    def project(self) -> str:
        return self.spec.project_ref.name

    @property
    def repo(self) -> Path:
        return paths.repo_path(self.settings.data_dir, self.ns, self.project)

    @property
    def archived(self) -> bool:
        return bool(self.project_spec and self.project_spec.archived)


def check(ctx: RunContext, *, cancellable: bool = True) -> None:
    if ctx.stopped:
        raise Stopped()
    live = ctx.live.meta.get("generation")
    if live is not None:
        ctx.observed = int(live)  # from here on, this generation's spec is acted on
    if cancellable and live_spec(ctx).cancel:
        raise RunCancelled()


async def sleep(ctx: RunContext, seconds: float) -> None:
    await ctx.stopped.wait(seconds)


def generation(ctx: RunContext) -> int | None:
    """The generation of the spec last acted on (the live spec, read by check)."""
    return ctx.observed or ctx.run["metadata"].get("generation")


def live_spec(ctx: RunContext) -> RunSpec:
    """The Run's spec as kopf last saw it (spec.cancel, spec.parallelism may change)."""
    live = ctx.live.get("spec")
    return RunSpec.model_validate(dict(live)) if live else ctx.spec


def agent(ctx: RunContext) -> ProjectAgent:
    """The project's spec.agent with the run's own choices on top."""
    base = ctx.project_spec.chosen_agent if ctx.project_spec else ProjectAgent()
    override = ctx.spec.agent.model_dump(exclude_none=True) if ctx.spec.agent else {}
    return base.model_copy(update={k: v for k, v in override.items() if v})


async def spec_documents(ctx: RunContext) -> dict[str, str]:
    """The documents of the run's spec snapshot: from the commit it names (read once),
    or inline for a run stored before the documents moved out of status."""
    snapshot = ctx.status.spec_snapshot
    assert snapshot is not None
    if snapshot.documents or not snapshot.commit_sha:
        return dict(snapshot.documents or {})
    if ctx.documents is None:
        ctx.documents = await asyncio.to_thread(
            project_spec.committed_documents, ctx.repo, snapshot.commit_sha
        )
    return ctx.documents


def in_phase(ctx: RunContext, *phases: TaskPhase) -> list[TaskState]:
    return [t for t in ctx.tasks.values() if t.phase in phases]


def views(ctx: RunContext) -> list[TaskView]:
    return [t.view() for t in ctx.tasks.values()]


async def apiserver(ctx: RunContext, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) in a thread, retried through an apiserver outage (settings.
    apiserver_retry_seconds): the run waits for the apiserver instead of failing."""
    return await asyncio.to_thread(
        retrying.call,
        functools.partial(fn, *args),
        window=ctx.settings.apiserver_retry_seconds,
        transient=retrying.apiserver_outage,
        what=f"{getattr(fn, '__name__', 'apiserver call')} for run {ctx.ns}/{ctx.name}",
    )


async def set_status(ctx: RunContext, **fields: Any) -> None:
    """Set status fields (by their Python names) here and on the Run."""
    for name, value in fields.items():
        setattr(ctx.status, name, value)
    await _save(ctx, *fields)


async def _save(ctx: RunContext, *names: str) -> None:
    await apiserver(
        ctx, resources.patch_status, ctx.ns, kube.RUNS, ctx.name, status_patch(ctx.status, *names)
    )


async def set_phase(
    ctx: RunContext,
    phase: RunPhase,
    message: str = "",
    reason: str | None = None,
    **fields: Any,
) -> None:
    """The Run's phase (with its conditions; reason instead of the phase's own) and
    other status fields (by their Python names), in one write."""
    for name, value in fields.items():
        setattr(ctx.status, name, value)
    run_status.set_phase(ctx.status, phase, message, generation(ctx), reason)
    # The Project first: whoever sees the Run in its new phase (say, succeeded) then
    # finds the Project agreeing (latestRun, phase built). A crash in between is
    # repaired when the restarted daemon sets the phase again (or in finish.after_final).
    if ctx.status.run_number:
        await apiserver(
            ctx,
            project_state.record_latest_run,
            ctx.ns,
            ctx.project,
            ctx.name,
            ctx.status.run_number,
            phase,
            ctx.status.spec_snapshot.version if ctx.status.spec_snapshot else None,
            ctx.archived,
        )
    await _save(ctx, *fields, *run_status.PHASE_FIELDS)


async def observe_generation(ctx: RunContext) -> None:
    """Acknowledge a spec change (say, spec.parallelism) without a phase change."""
    gen = generation(ctx)
    if gen is not None and gen != ctx.status.observed_generation:
        run_status.observe(ctx.status, gen)
        await _save(ctx, *run_status.OBSERVE_FIELDS)


async def set_task(ctx: RunContext, task: TaskState, **fields: Any) -> None:
    """Set Task status fields (by their Python names) here and on the Task."""
    for name, value in fields.items():
        setattr(task.status, name, value)
    await _save_task(ctx, task, *fields)


async def set_task_phase(
    ctx: RunContext,
    task: TaskState,
    phase: TaskPhase,
    message: str,
    reason: str | None = None,
    **fields: Any,
) -> None:
    """A Task's phase with its conditions (status/task.py; reason instead of the phase's
    own) and other fields, in one write."""
    for name, value in fields.items():
        setattr(task.status, name, value)
    task_status.set_phase(task.status, phase, message, task.generation, reason)
    await _save_task(ctx, task, *fields, *task_status.PHASE_FIELDS)


async def _save_task(ctx: RunContext, task: TaskState, *names: str) -> None:
    await apiserver(
        ctx,
        resources.patch_status,
        ctx.ns,
        kube.TASKS,
        task.name,
        status_patch(task.status, *names),
    )


async def update_summary(ctx: RunContext) -> None:
    """status.tasksSummary and status.usage, recomputed from the Tasks (so never counted
    twice), written when either changed."""
    fields: dict[str, Any] = {}
    summary = summary_of(t.phase for t in ctx.tasks.values())
    if summary != ctx.status.tasks_summary:
        fields["tasks_summary"] = summary
    usage = run_total([t.status.usage for t in ctx.tasks.values()])
    if usage is not None and usage != ctx.status.usage:
        fields["usage"] = usage
    if fields:
        await set_status(ctx, **fields)


async def event(
    ctx: RunContext,
    event_type: str,
    payload: Obj | None = None,
    task: str | None = None,
    extra: str | int | None = None,
    key: str | None = None,
) -> None:
    await _record(ctx, [_entry(ctx, event_type, payload, task, extra=extra, key=key)])


async def events(ctx: RunContext, items: list[tuple[str, Obj, str | None]]) -> None:
    """Several (type, payload, task) events of one step, keyed, in order, in one journal
    transaction (one instant)."""
    entries = [_entry(ctx, event_type, payload, task) for event_type, payload, task in items]
    await _record(ctx, entries, together=True)


def _entry(
    ctx: RunContext,
    event_type: str,
    payload: Obj | None,
    task: str | None,
    extra: str | int | None = None,
    key: str | None = None,
) -> Obj:
    """One keyed journal entry of this run (recorder.entry with the run's coordinates)."""
    return recorder.entry(
        namespace=ctx.ns,
        project=ctx.project,
        run=ctx.name,
        event_type=event_type,
        payload=payload,
        task=task,
        extra=extra,
        key=key,
    )


async def _record(ctx: RunContext, items: list[Obj], together: bool = False) -> None:
    await asyncio.to_thread(
        recorder.write,
        ctx.settings.database_url,
        items,
        retry_seconds=ctx.settings.db_retry_seconds,
        together=together,
    )


async def k8s_event(obj: Obj, reason: str, message: str, warning: bool = False) -> None:
    await asyncio.to_thread(kevents.post, obj, reason, message, warning=warning)


def k8s_event_later(obj: Obj, reason: str, message: str, warning: bool = False) -> None:
    """Post a Kubernetes Event in the background, in the order asked: for the Events of
    a task's steps, which a Run's next step must not wait for (an Event is best effort,
    the journal is the record; with many runs at once a post can take a while). One
    poster per event loop keeps their order."""
    poster = _posters.get(asyncio.get_running_loop())
    if poster is None or poster.task.done():
        poster = _posters[asyncio.get_running_loop()] = _Poster()
    poster.queue.put_nowait((obj, reason, message, warning))


class _Poster:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[Obj, str, str, bool]] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self._post_forever())

    async def _post_forever(self) -> None:
        while True:
            obj, reason, message, warning = await self.queue.get()
            try:
                await asyncio.to_thread(kevents.post, obj, reason, message, warning=warning)
            except Exception as exc:  # kevents.post logs the apiserver's refusals itself
                kevents.log.warning("could not post event %s: %s", reason, exc)


_posters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Poster] = (
    weakref.WeakKeyDictionary()
)
