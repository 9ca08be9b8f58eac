"""The Run's and Project's pure decisions (reconcilers/*/core.py), without any store."""

from __future__ import annotations

from prazium_kit.models import ProjectStatus, SpecSnapshot, TaskPhase, VerificationResult
from prazium_operator.reconcilers.project.core import Slot, slot_decision
from prazium_operator.reconcilers.run.core import (
    WAITING_REWRITE_SECONDS,
    Admitted,
    MergeConflict,
    Refused,
    TaskView,
    Verdict,
    admission_decision,
    execution_round,
    next_tasks_to_start,
    queued_with,
    rewrite_waiting,
    run_outcome,
    summary_of,
)


def tasks(
    phases: dict[str, TaskPhase], deps: dict[str, tuple[str, ...]] | None = None
) -> list[TaskView]:
    deps = deps or {}
    return [
        TaskView(
            id=i,
            slug=f"slug-{i[-1]}",
            phase=p,
            dependencies=deps.get(i, ()),
            message="boom" if p == "failed" else "",
        )
        for i, p in phases.items()
    ]


# -------------------------------------------------------------------------- scheduling


def test_only_tasks_whose_dependencies_succeeded_start() -> None:
    plan = tasks(
        {"task-001": "pending", "task-002": "pending", "task-003": "pending"},
        {"task-002": ("task-001",), "task-003": ("task-001",)},
    )
    assert next_tasks_to_start(plan, 3) == ["task-001"]
    plan = tasks(
        {"task-001": "succeeded", "task-002": "pending", "task-003": "queued"},
        {"task-002": ("task-001",), "task-003": ("task-001",)},
    )
    assert next_tasks_to_start(plan, 3) == ["task-002", "task-003"]


def test_parallelism_counts_the_running_tasks() -> None:
    plan = tasks(
        {"task-001": "running", "task-002": "pending", "task-003": "pending", "task-004": "pending"}
    )
    assert next_tasks_to_start(plan, 3) == ["task-002", "task-003"]
    assert next_tasks_to_start(plan, 1) == []
    busy = tasks({"task-001": "running", "task-002": "running", "task-003": "pending"})
    assert next_tasks_to_start(busy, 1) == []  # over the limit (parallelism lowered): none


def test_a_round_queues_ready_pending_tasks_and_starts_within_parallelism() -> None:
    plan = tasks(
        {
            "task-001": "succeeded",
            "task-002": "pending",
            "task-003": "queued",
            "task-004": "pending",
        },
        {"task-004": ("task-002",)},
    )
    round_ = execution_round(plan, 1)
    assert round_.verdict is Verdict.CONTINUE
    assert round_.to_queue == ["task-002"]  # task-003 is queued already, task-004 waits
    assert round_.to_start == ["task-002"]


def test_a_task_s_success_queues_the_dependents_it_was_the_last_dependency_of() -> None:
    plan = tasks(
        {
            "task-001": "running",
            "task-002": "running",
            "task-003": "pending",
            "task-004": "pending",
        },
        {"task-003": ("task-001",), "task-004": ("task-001", "task-002")},
    )
    assert queued_with(plan, "task-001") == ["task-003"]  # task-004 waits for task-002
    assert queued_with(plan, "task-002") == []
    failed = tasks(
        {"task-001": "running", "task-002": "failed", "task-003": "pending"},
        {"task-003": ("task-001",)},
    )
    assert queued_with(failed, "task-001") == []  # the run drains, nothing is queued


def test_a_failure_drains_running_siblings_then_cancels_the_rest() -> None:
    draining = tasks({"task-001": "failed", "task-002": "running", "task-003": "pending"})
    assert execution_round(draining, 3).verdict is Verdict.DRAIN
    failing = tasks(
        {
            "task-001": "succeeded",
            "task-002": "failed",
            "task-003": "pending",
            "task-004": "queued",
            "task-005": "failed",
        }
    )
    round_ = execution_round(failing, 3)
    assert round_.verdict is Verdict.FAIL
    assert round_.failed is not None and round_.failed.id == "task-002"
    assert round_.to_cancel == ["task-003", "task-004"]
    assert round_.to_start == []


def test_all_succeeded_ends_execution() -> None:
    done = tasks({"task-001": "succeeded", "task-002": "succeeded"})
    assert execution_round(done, 3).verdict is Verdict.SUCCEEDED


def test_summary_counts_every_phase() -> None:
    summary = summary_of(["pending", "running", "running", "succeeded"])
    assert summary.model_dump() == {
        "total": 4,
        "pending": 1,
        "queued": 0,
        "running": 2,
        "succeeded": 1,
        "failed": 0,
        "cancelled": 0,
    }


# -------------------------------------------------------------------------- admission


def approved(version: int = 2) -> ProjectStatus:
    return ProjectStatus.model_validate(
        {
            "phase": "approved",
            "spec": {"version": version, "approvedVersion": version, "documents": {"SPEC.md": "s"}},
        }
    )


def test_an_approved_spec_is_snapshotted() -> None:
    decision = admission_decision("p", False, approved())
    assert decision == Admitted(SpecSnapshot(version=2, documents={"SPEC.md": "s"}))


def test_a_committed_spec_is_snapshotted_by_reference() -> None:
    status = approved()
    assert status.spec is not None
    status.spec.commit_sha = "abc123"
    decision = admission_decision("p", False, status)
    # The run's status names the commit; the documents stay in the repository.
    assert decision == Admitted(SpecSnapshot(version=2, commitSha="abc123"))


def test_archived_projects_and_unapproved_specs_are_refused() -> None:
    archived = admission_decision("p", True, approved())
    assert isinstance(archived, Refused) and "archived" in archived.message
    review = ProjectStatus.model_validate({"phase": "spec_review", "spec": {"version": 3}})
    refused = admission_decision("p", False, review)
    assert isinstance(refused, Refused)
    assert "phase spec_review" in refused.message and "version 3" in refused.message
    nothing = admission_decision("p", False, ProjectStatus())
    assert isinstance(nothing, Refused) and "(none yet)" in nothing.message


def test_a_stored_snapshot_wins_and_a_retry_reuses_the_old_one() -> None:
    stored = SpecSnapshot(version=1, documents={})
    assert admission_decision("p", False, ProjectStatus(), snapshot=stored) == Admitted(stored)
    old = SpecSnapshot(version=4, documents={"SPEC.md": "old"})
    assert admission_decision(
        "p", False, approved(), retry_of="r1", retried_snapshot=old
    ) == Admitted(old)
    missing = admission_decision("p", False, approved(), retry_of="r1")
    assert isinstance(missing, Refused) and "'r1'" in missing.message


def test_the_build_slot_is_one_per_project() -> None:
    assert slot_decision(None, "r2", False) is Slot.TAKE
    assert slot_decision("r2", "r2", True) is Slot.HELD
    assert slot_decision("r1", "r2", True) is Slot.WAIT
    assert slot_decision("r1", "r2", False) is Slot.TAKE  # its holder finished


# -------------------------------------------------------------------------- outcome


def test_run_outcome_names_what_failed() -> None:
    failed = TaskView(id="task-002", slug="api", phase="failed", message="tests failed")
    assert run_outcome(failed_task=failed).message == "task task-002 (api) failed: tests failed"
    conflict = run_outcome(merge_conflict=MergeConflict(failed, ["a.py", "b.py"]))
    assert conflict.phase == "failed"
    assert conflict.message == "merging task-002 (api) into main conflicts on: a.py, b.py"
    red = VerificationResult(exitCode=1, summary="1 tests passed, 2 failed")
    assert run_outcome(verification=red).message == "verification failed: 1 tests passed, 2 failed"


def test_run_outcome_succeeds_when_nothing_failed() -> None:
    green = VerificationResult(exitCode=0, summary="3 tests passed")
    assert run_outcome(verification=green).phase == "succeeded"
    assert run_outcome().message == "built and verified"


def test_only_a_finished_run_with_a_newer_generation_is_observed_by_the_event_handler() -> None:
    from prazium_kit.models import RunStatus
    from prazium_operator.reconcilers.run.observe_finished import needs_observing

    done = RunStatus(phase="succeeded", observedGeneration=1)
    assert needs_observing(done, 2)
    assert not needs_observing(done, 1)
    assert not needs_observing(RunStatus(phase="executing", observedGeneration=1), 2)


def test_a_queued_task_says_at_once_that_it_waits_then_changes_why_at_most_so_often() -> None:
    slot = "waiting in the operator's queue for a worker slot (all 4 are in use)"
    room = "waiting in the operator's queue for room on the nodes: the node lacks CPU"
    # Not yet waiting (no message, or its attempt's): written at once.
    assert rewrite_waiting(None, slot, 0.0)
    assert rewrite_waiting("attempt 1", room, 0.0)
    # The same message is never written twice.
    assert not rewrite_waiting(slot, slot, float("inf"))
    # Already waiting: the reason changes only once the shown one has stood a while,
    # so hand-offs among many runs do not write every waiting task each time.
    assert not rewrite_waiting(slot, room, WAITING_REWRITE_SECONDS - 0.1)
    assert rewrite_waiting(slot, room, WAITING_REWRITE_SECONDS)
    # Shown by an earlier operator (unknown for how long): rewritten.
    assert rewrite_waiting(room, slot, float("inf"))
