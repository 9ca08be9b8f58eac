"""The Run's decisions as pure functions over typed state (the functional core).

Nothing here reads or writes the apiserver, git or the journal: the reconciler's
other modules (the imperative shell) gather the state, ask these functions what
to do, and do it. tests/unit/test_run_core.py covers them without any store.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prazium_kit.models import (
    TASK_PHASES,
    ProjectSpec,
    ProjectStatus,
    RunPhase,
    SpecSnapshot,
    TaskPhase,
    TasksSummary,
    VerificationResult,
)


@dataclass(frozen=True)
class TaskView:
    """What the decisions need to know of one task (in plan order)."""

    id: str
    slug: str
    phase: TaskPhase
    dependencies: tuple[str, ...] = ()
    message: str = ""


# ------------------------------------------------------------------------- admission


@dataclass(frozen=True)
class Admitted:
    snapshot: SpecSnapshot


@dataclass(frozen=True)
class Refused:
    message: str


def admission_decision(
    project: str,
    archived: bool,
    project_status: ProjectStatus,
    *,
    snapshot: SpecSnapshot | None = None,
    retry_of: str | None = None,
    retried_snapshot: SpecSnapshot | None = None,
) -> Admitted | Refused:
    """Whether a run of project may build, and the spec snapshot it builds.

    snapshot is the one the run stored already (a restarted daemon keeps it);
    retried_snapshot the one of the run named by spec.retryOf, if any.
    """
    if archived:
        return Refused(f"project {project!r} is archived; it accepts no new runs")
    if snapshot:
        return Admitted(snapshot)
    if retry_of:
        if not retried_snapshot:
            return Refused(f"retryOf names run {retry_of!r}, which has no spec snapshot")
        return Admitted(retried_snapshot)
    state = project_status.spec
    version = state.version if state else None
    if not version or state is None or state.approved_version != version:
        phase = project_status.phase or "draft"
        return Refused(
            f"project {project!r} has no approved spec (phase {phase}); approve spec"
            f" version {version or '(none yet)'} with spec.approval.specVersion first"
        )
    if state.commit_sha:
        # A reference: the approved documents are committed under docs/spec/ there.
        return Admitted(SpecSnapshot(version=version, commitSha=state.commit_sha))
    return Admitted(SpecSnapshot(version=version, documents=dict(state.documents or {})))


def approval_in_progress(project_spec: ProjectSpec, project_status: ProjectStatus) -> bool:
    """The Project's spec approves a version that is not generated (or recorded) yet: a
    Project applied together with its Run (`kubectl apply -f project.yaml -f run.yaml`)
    is still being planned when the Run arrives."""
    wanted = project_spec.approval.spec_version if project_spec.approval else None
    state = project_status.spec
    version = state.version if state else None
    if not wanted or (version and state is not None and state.approved_version == version):
        return False
    return not version or version <= wanted


# ------------------------------------------------------------------------- execution


class Verdict(enum.Enum):
    CONTINUE = "continue"  # start what is ready, then poll again
    SUCCEEDED = "succeeded"  # every task succeeded: merge
    DRAIN = "drain"  # a task failed: let the running siblings finish first
    FAIL = "fail"  # a task failed and nothing runs: cancel the rest, fail the run


@dataclass(frozen=True)
class Round:
    verdict: Verdict
    to_queue: list[str] = field(default_factory=list)  # pending -> queued (deps done)
    to_start: list[str] = field(default_factory=list)  # in order, within parallelism
    to_cancel: list[str] = field(default_factory=list)  # never started (on FAIL)
    failed: TaskView | None = None  # the first failed task


def _deps_done(task: TaskView, phases: dict[str, TaskPhase]) -> bool:
    return all(phases[dep] == "succeeded" for dep in task.dependencies)


def next_tasks_to_start(tasks: Sequence[TaskView], parallelism: int) -> list[str]:
    """Tasks whose dependencies succeeded, in plan order, as many as parallelism leaves."""
    phases = {t.id: t.phase for t in tasks}
    ready = [t.id for t in tasks if t.phase in ("pending", "queued") and _deps_done(t, phases)]
    running = sum(1 for t in tasks if t.phase == "running")
    return ready[: max(parallelism - running, 0)]


def execution_round(tasks: Sequence[TaskView], parallelism: int) -> Round:
    """One scheduling round over the tasks' current phases."""
    failed = [t for t in tasks if t.phase == "failed"]
    if failed:
        if any(t.phase == "running" for t in tasks):
            return Round(Verdict.DRAIN)
        return Round(
            Verdict.FAIL,
            failed=failed[0],
            to_cancel=[t.id for t in tasks if t.phase in ("pending", "queued")],
        )
    if all(t.phase == "succeeded" for t in tasks):
        return Round(Verdict.SUCCEEDED)
    phases = {t.id: t.phase for t in tasks}
    return Round(
        Verdict.CONTINUE,
        to_queue=[t.id for t in tasks if t.phase == "pending" and _deps_done(t, phases)],
        to_start=next_tasks_to_start(tasks, parallelism),
    )


def queued_with(tasks: Sequence[TaskView], succeeded: str) -> list[str]:
    """The tasks to queue in the same step that records task `succeeded` as succeeded:
    those whose dependencies are then all done (none while a task failed: the run
    drains, then fails)."""
    after = [
        TaskView(t.id, t.slug, "succeeded", t.dependencies, t.message) if t.id == succeeded else t
        for t in tasks
    ]
    round_ = execution_round(after, 1)
    return round_.to_queue if round_.verdict is Verdict.CONTINUE else []


def summary_of(phases: Iterable[TaskPhase]) -> TasksSummary:
    counts = dict.fromkeys(TASK_PHASES, 0)
    total = 0
    for phase in phases:
        counts[phase] += 1
        total += 1
    return TasksSummary.model_validate({"total": total, **counts})


# ------------------------------------------------------------------------- outcome


@dataclass(frozen=True)
class MergeConflict:
    task: TaskView
    paths: list[str]


@dataclass(frozen=True)
class Outcome:
    phase: RunPhase
    message: str


SUCCEEDED_MESSAGE = "built and verified"


def run_outcome(
    *,
    failed_task: TaskView | None = None,
    merge_conflict: MergeConflict | None = None,
    verification: VerificationResult | None = None,
) -> Outcome:
    """How the run ends, given what its tasks, the merge and the verification came to."""
    if failed_task is not None:
        return Outcome(
            "failed", f"task {failed_task.id} ({failed_task.slug}) failed: {failed_task.message}"
        )
    if merge_conflict is not None:
        task = merge_conflict.task
        return Outcome(
            "failed",
            f"merging {task.id} ({task.slug}) into main conflicts on:"
            f" {', '.join(merge_conflict.paths)}",
        )
    if verification is not None and verification.exit_code != 0:
        return Outcome("failed", f"verification failed: {verification.summary}")
    return Outcome("succeeded", SUCCEEDED_MESSAGE)
