"""The Run's decisions as pure functions over typed state (the functional core).

Nothing here reads or writes the apiserver, git or the journal: the reconciler's
other modules (the imperative shell) gather the state, ask these functions what
to do, and do it. tests/unit/test_run_core.py covers them without any store.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prazium_kit import ids
from prazium_kit.models import (
    DEFAULT_REPAIR_ROUNDS,
    REPAIR_ROLE,
    TASK_PHASES,
    PlannedTask,
    ProjectSpec,
    ProjectStatus,
    Repair,
    RunPhase,
    SpecSnapshot,
    TaskPhase,
    TasksSummary,
    VerificationResult,
)
from prazium_operator.status.run import REPAIR_FAILED, REPAIR_ROUNDS_EXHAUSTED


@dataclass(frozen=True)
class TaskView:
    """What the decisions need to know of one task (in plan order)."""

    id: str
    slug: str
    phase: TaskPhase
    dependencies: tuple[str, ...] = ()
    message: str = ""
    repair: bool = False  # a repair round's task


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


def ready_tasks(tasks: Sequence[TaskView]) -> list[str]:
    """Tasks not started whose dependencies succeeded, in plan order."""
    phases = {t.id: t.phase for t in tasks}
    return [t.id for t in tasks if t.phase in ("pending", "queued") and _deps_done(t, phases)]


def next_tasks_to_start(tasks: Sequence[TaskView], parallelism: int) -> list[str]:
    """Tasks whose dependencies succeeded, in plan order, as many as parallelism leaves."""
    running = sum(1 for t in tasks if t.phase == "running")
    return ready_tasks(tasks)[: max(parallelism - running, 0)]


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
    after = [dataclasses.replace(t, phase="succeeded") if t.id == succeeded else t for t in tasks]
    round_ = execution_round(after, 1)
    return round_.to_queue if round_.verdict is Verdict.CONTINUE else []


# ------------------------------------------------------------------------- prestart
#
# The kubernetes executor can create a task's Job before the task may start, its Pod
# waiting for a go signal (executor/prestart.py), so the Pod's start is paid while
# the work before it runs. Which tasks, and when a Job so created is no longer needed,
# is decided here.

_NOT_STARTED: tuple[TaskPhase, ...] = ("pending", "queued")
_UNDER_WAY: tuple[TaskPhase, ...] = ("running", "succeeded")


@dataclass(frozen=True)
class Prestart:
    create: list[str] = field(default_factory=list)  # in plan order, as room allows
    discard: list[str] = field(default_factory=list)  # created ahead, no longer needed
    verification: bool = False  # create the verification Job ahead


def prestart_round(
    tasks: Sequence[TaskView],
    parallelism: int,
    prestarted: Iterable[str],
    *,
    verify: bool,
    verification_prestarted: bool,
    depth: int = 1,
) -> Prestart:
    """Which Jobs to create ahead and which of those created to remove.

    A task not started whose every dependency runs or succeeded will start once they
    are done (or once a worker slot is free): its Pod may wait for it (level 1). With
    `depth` above 1, so may a task whose dependencies not started are themselves at a
    level below `depth` (level 2 waits for a task whose own Pod waits, and so on): a
    task that takes less time than a Pod's start leaves the next Pod no time to start
    otherwise. Every waiting Pod's chain thus ends in work under way, and at most
    `parallelism` of a run wait at once (more could not start together), the nearest
    levels first. The verification's Pod may wait once every task is under way, or
    (depth above 1) at a level below `depth` itself. Nothing is created once a task
    failed (the run drains, then fails), and every Job created ahead of a task that
    will not start is removed: the task failed, was cancelled or taken over, or a
    sibling failed."""
    phases = {t.id: t.phase for t in tasks}
    ahead = set(prestarted)
    failed = any(t.phase == "failed" for t in tasks)
    discard = [
        task_id
        for task_id in sorted(ahead)
        if failed or phases.get(task_id) not in (*_NOT_STARTED, "running")
    ]
    if failed:
        return Prestart(discard=discard)
    waiting = sum(1 for task_id in ahead if phases.get(task_id) in _NOT_STARTED)
    room = max(parallelism - waiting, 0)
    levels = _ahead_levels(tasks, phases)
    eligible = [
        t for t in tasks if t.phase in _NOT_STARTED and t.id not in ahead and levels[t.id] <= depth
    ]
    # sorted() is stable: plan order within a level.
    create = [t.id for t in sorted(eligible, key=lambda t: levels[t.id])][:room]
    last_level = max((levels[t.id] for t in tasks if t.phase in _NOT_STARTED), default=0)
    verification = (
        verify
        and not verification_prestarted
        and bool(tasks)
        and all(t.phase in (*_UNDER_WAY, *_NOT_STARTED) for t in tasks)
        and last_level + 1 <= depth
    )
    return Prestart(create=create, discard=discard, verification=verification)


def hold_ahead(others_queued: bool, places: int | None, slots: int) -> bool:
    """Whether to create no Job ahead now: other runs' ready tasks wait for a worker
    slot (they take the freed slots first) and the nodes have room for fewer Pods than
    one set of worker slots (`places`; None: unknown, the slots alone bound the Pods).
    A Pod created ahead then holds room that those tasks need, and is deleted for them
    (executor/prestart.discard_for_room), its start paid for nothing; with room to
    spare it waits for its own task, its start hidden as usual."""
    return others_queued and places is not None and places < slots


WAITING_PREFIX = "waiting in the operator's queue"
# A waiting Task's message is rewritten (say, from a worker slot to room on the nodes)
# at most this often: with many runs sharing the slots, what a queued task waits for
# changes at every hand-off, and each change would be a status write per waiting task.
WAITING_REWRITE_SECONDS = 15.0


def rewrite_waiting(shown: str | None, wanted: str, shown_for: float) -> bool:
    """Whether a queued Task's message should become wanted (why it waits now), given
    the message it shows and for how long this operator has shown it (inf: unknown).
    A task not yet saying it waits says so at once; one already waiting changes its
    reason or details only once it has shown them WAITING_REWRITE_SECONDS."""
    if shown == wanted:
        return False
    if not (shown or "").startswith(WAITING_PREFIX):
        return True
    return shown_for >= WAITING_REWRITE_SECONDS


def _ahead_levels(tasks: Sequence[TaskView], phases: dict[str, TaskPhase]) -> dict[str, int]:
    """Each task's level for prestart_round: 0 under way; 1 + the highest level of its
    dependencies otherwise (1: they are all under way); a task that cannot start (a
    dependency failed, cancelled or unknown) gets a level past any depth."""
    never = len(tasks) + 1_000_000
    levels: dict[str, int] = {}
    by_id = {t.id: t for t in tasks}

    def level(task_id: str, seen: frozenset[str]) -> int:
        if task_id in levels:
            return levels[task_id]
        task = by_id.get(task_id)
        phase = phases.get(task_id)
        if phase in _UNDER_WAY:
            found = 0
        elif task is None or phase not in _NOT_STARTED or task_id in seen:
            found = never
        else:
            inner = seen | {task_id}
            found = min(1 + max((level(d, inner) for d in task.dependencies), default=0), never)
        levels[task_id] = found
        return found

    for t in tasks:
        level(t.id, frozenset())
    return levels


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
    reason: str | None = None  # the conditions' reason, when more precise than the phase's


SUCCEEDED_MESSAGE = "built and verified"


def run_outcome(
    *,
    failed_task: TaskView | None = None,
    merge_conflict: MergeConflict | None = None,
    verification: VerificationResult | None = None,
    repair_rounds: int = 0,
) -> Outcome:
    """How the run ends, given what its tasks, the merge and the verification came to
    (repair_rounds: how many repair rounds it took)."""
    if failed_task is not None:
        message = f"task {failed_task.id} ({failed_task.slug}) failed: {failed_task.message}"
        if failed_task.repair:
            return Outcome("failed", f"repair round {repair_rounds}: {message}", REPAIR_FAILED)
        return Outcome("failed", message)
    if merge_conflict is not None:
        task = merge_conflict.task
        return Outcome(
            "failed",
            f"merging {task.id} ({task.slug}) into main conflicts on:"
            f" {', '.join(merge_conflict.paths)}",
        )
    if verification is not None and verification.exit_code != 0:
        if repair_rounds:
            return Outcome(
                "failed",
                f"verification failed after {_rounds(repair_rounds)}: {verification.summary}",
                REPAIR_ROUNDS_EXHAUSTED,
            )
        return Outcome("failed", f"verification failed: {verification.summary}")
    if repair_rounds:
        return Outcome("succeeded", f"{SUCCEEDED_MESSAGE} after {_rounds(repair_rounds)}")
    return Outcome("succeeded", SUCCEEDED_MESSAGE)


def _rounds(count: int) -> str:
    return f"{count} repair round{'s' if count != 1 else ''}"


# ------------------------------------------------------------------------- repair
#
# A failed verification is followed by up to spec.repair.maxRounds repair rounds: a
# repair Task on a branch from the merged commit, the test output in its
# instructions, the whole app in its scope; its commit is merged and the app is
# verified again.

# The output's tail a repair task is given (the journal keeps the verification's own).
REPAIR_OUTPUT_CHARS = 16000
# The whole app: the repair may have to change any file (a test that is wrong, too).
REPAIR_SCOPE = ("**",)
# Coders that cannot repair: the offline template coder writes exactly what a plan
# task names, deterministically; it never reads test output (and its apps pass).
NON_REPAIRING_CODERS = frozenset({"template"})


def max_repair_rounds(run: Repair | None, project: Repair | None) -> int:
    """spec.repair.maxRounds of the Run, else of the Project, else the default."""
    for chosen in (run, project):
        if chosen is not None and chosen.max_rounds is not None:
            return chosen.max_rounds
    return DEFAULT_REPAIR_ROUNDS


@dataclass(frozen=True)
class RepairRound:
    """Start repair round `round`: create this Task (in the plan after the others)."""

    round: int
    task_id: str
    sequence: int
    definition: dict[str, Any]  # the repair Task's spec.definition


def after_verification(
    result: VerificationResult,
    *,
    rounds_done: int,
    max_rounds: int,
    coder: str,
    tasks: Sequence[PlannedTask],
    merged_commit: str,
) -> Outcome | RepairRound:
    """What follows a verification: the run's outcome, or another repair round.

    tasks: the run's tasks in plan order (repair tasks of earlier rounds included)."""
    outcome = run_outcome(verification=result, repair_rounds=rounds_done)
    if outcome.phase == "succeeded" or rounds_done >= max_rounds:
        return outcome
    task_id = repair_task_id([t.id for t in tasks])
    if coder in NON_REPAIRING_CODERS or task_id is None or len(tasks) >= MAX_SEQUENCE:
        why = (
            f"the {coder} coder does not repair"
            if coder in NON_REPAIRING_CODERS
            else "no task id is left for a repair task"
        )
        return Outcome(outcome.phase, f"{outcome.message} ({why})", outcome.reason)
    round_ = rounds_done + 1
    return RepairRound(
        round=round_,
        task_id=task_id,
        sequence=len(tasks) + 1,
        definition=repair_definition(
            round_, max_rounds, task_id, repair_dependencies(tasks), result, merged_commit
        ),
    )


MAX_SEQUENCE = 999  # a Task's spec.sequence and the task ids' three digits


def repair_task_id(task_ids: Iterable[str]) -> str | None:
    """The id after the highest of the run's task ids (task-NNN); None past task-999."""
    matches = (ids.TASK_DEFINITION_ID.match(task_id) for task_id in task_ids)
    numbers = [int(match.group(1)) for match in matches if match]
    following = max(numbers, default=0) + 1
    return f"task-{following:03d}" if following <= MAX_SEQUENCE else None


def repair_dependencies(tasks: Sequence[PlannedTask]) -> list[str]:
    """What a repair task follows in the graph: the previous round's repair task, or
    the plan's last tasks (those no other task depends on). Its branch starts from the
    merged commit, which holds them all."""
    repairs = [t.id for t in tasks if t.is_repair]
    if repairs:
        return [repairs[-1]]
    depended = {dep for t in tasks for dep in t.dependencies}
    return [t.id for t in tasks if t.id not in depended]


def repair_definition(
    round_: int,
    max_rounds: int,
    task_id: str,
    dependencies: list[str],
    result: VerificationResult,
    merged_commit: str,
) -> dict[str, Any]:
    """The repair Task's definition: the failed verification is its input."""
    command = " ".join(result.command)
    tail = (result.output_tail or "")[-REPAIR_OUTPUT_CHARS:]
    instructions = (
        f"The merged app failed its verification. `{command}` on commit {merged_commit[:12]}"
        f" exited with {result.exit_code}: {result.summary}.\n\n"
        "Find the cause in the output below and change the code so that the command passes."
        " Change a test only where the test itself is wrong. The whole app is in scope."
        f" This is repair round {round_} of at most {max_rounds}.\n\n"
        f"The output's last lines:\n```\n{tail}\n```\n"
    )
    return {
        "id": task_id,
        "slug": f"repair-{round_}",
        "description": f"Repair round {round_}: make the merged app pass `{command}`"
        f" ({result.summary})"[:2000],
        "instructions": instructions[:50000],
        "dependencies": dependencies,
        "pathScope": list(REPAIR_SCOPE),
        "expectedOutputs": [],
        "role": REPAIR_ROLE,
    }


# ------------------------------------------------------------------------- reuse
#
# A retry (spec.retryOf) takes over, without calling an agent, each task that
# succeeded in the retried run with the same definition, spec version and inputs:
# the same starting commit and the same commits of its dependencies.


@dataclass(frozen=True)
class EarlierTask:
    """A task of the retried run, as reuse compares it."""

    id: str
    definition: Mapping[str, Any]  # as stored in its Task
    phase: TaskPhase
    commit: str | None = None
    base_commit: str | None = None
    files_created: tuple[str, ...] = ()
    files_modified: tuple[str, ...] = ()

    @property
    def is_repair(self) -> bool:
        return self.definition.get("role") == REPAIR_ROLE


@dataclass(frozen=True)
class EarlierRun:
    """The retried run: where it started and what its tasks came to."""

    name: str
    project: str
    spec_version: int | None
    base_commit: str | None
    merged_commit: str | None
    tasks: Mapping[str, EarlierTask]  # by task id, in plan order
    merge_order: tuple[str, ...] = ()
    verify_command: tuple[str, ...] = ()
    complete: bool = True  # every task of its plan was found (its Task or their archive)


def retried_plan(earlier: EarlierRun) -> dict[str, Any] | None:
    """The retried run's plan without its repair tasks (a new retry repairs afresh),
    as a planner would write it; None when it has none to take over."""
    build = [t for t in earlier.tasks.values() if not t.is_repair]
    if not build or not earlier.complete:
        return None
    kept = {t.id for t in build}
    plan: dict[str, Any] = {
        "tasks": [{k: v for k, v in t.definition.items() if k != "role"} for t in build],
        "mergeOrder": [task_id for task_id in earlier.merge_order if task_id in kept],
    }
    if earlier.verify_command:
        plan["verifyCommand"] = list(earlier.verify_command)
    return plan


def same_start(earlier: EarlierRun, project: str, spec_version: int | None, base: str) -> bool:
    """Whether a retry starts where the retried run did: same project and spec version,
    and main as the retried run found it, or as its own merge left it (its tasks' work
    is in main then: merging them again changes nothing)."""
    return (
        earlier.project == project
        and earlier.spec_version == spec_version
        and base in {earlier.base_commit, earlier.merged_commit} - {None}
    )


def _comparable(definition: Mapping[str, Any]) -> dict[str, Any]:
    return PlannedTask.model_validate(dict(definition)).model_dump(by_alias=True)


def reusable(
    definition: Mapping[str, Any],
    dependency_commits: Mapping[str, str | None],
    earlier: EarlierRun,
) -> EarlierTask | None:
    """The retried run's task this task may take over instead of running, or None.

    definition: the task's own (as stored); dependency_commits: the commits its
    dependencies produced in this run. The caller checked same_start."""
    before = earlier.tasks.get(str(definition.get("id")))
    if (
        before is None
        or before.is_repair
        or definition.get("role") == REPAIR_ROLE
        or before.phase != "succeeded"
        or not before.commit
        or _comparable(before.definition) != _comparable(definition)
    ):
        return None
    for dep in definition.get("dependencies") or []:
        earlier_dep = earlier.tasks.get(dep)
        now = dependency_commits.get(dep)
        if earlier_dep is None or now is None or earlier_dep.commit != now:
            return None
    return before
