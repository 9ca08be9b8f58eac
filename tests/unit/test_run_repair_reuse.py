"""The Run's decisions about repair rounds and reuse in retries (reconcilers/run/core.py),
and the reasons they leave in status, without any store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from prazium_kit.models import (
    PlannedTask,
    Repair,
    RunSpec,
    RunStatus,
    TaskStatus,
    VerificationResult,
)
from prazium_operator.reconcilers.run.core import (
    REPAIR_OUTPUT_CHARS,
    EarlierRun,
    EarlierTask,
    Outcome,
    RepairRound,
    TaskView,
    after_verification,
    execution_round,
    max_repair_rounds,
    ready_tasks,
    repair_dependencies,
    repair_task_id,
    retried_plan,
    reusable,
    run_outcome,
    same_start,
)
from prazium_operator.status import run as run_status
from prazium_operator.status import task as task_status

RED = VerificationResult(
    command=["python", "-m", "unittest"],
    exitCode=1,
    passed=3,
    failed=1,
    summary="3 tests passed, 1 failed; verification failed (exit code 1)",
    outputTail="FAIL: test_broken (tests.test_smoke.Broken)\nAssertionError: 1 != 2\n",
)
GREEN = VerificationResult(exitCode=0, passed=4, summary="4 tests passed, 0 failed")
MERGED = "a" * 40


def plan(*specs: tuple[str, list[str]], repair: tuple[str, ...] = ()) -> list[PlannedTask]:
    return [
        PlannedTask(
            id=task_id,
            slug=f"s{task_id[-1]}",
            dependencies=deps,
            pathScope=["x/**"],
            role="repair" if task_id in repair else None,
        )
        for task_id, deps in specs
    ]


CHAIN = plan(("task-001", []), ("task-002", ["task-001"]), ("task-003", ["task-001"]))


def decide(result: VerificationResult, rounds_done: int = 0, **kw: Any) -> Outcome | RepairRound:
    args: dict[str, Any] = {"max_rounds": 1, "coder": "command", "tasks": CHAIN}
    args.update(kw)
    return after_verification(result, rounds_done=rounds_done, merged_commit=MERGED, **args)


# -------------------------------------------------------------------------- repair


def test_max_rounds_come_from_the_run_else_the_project_else_one() -> None:
    assert max_repair_rounds(None, None) == 1
    assert max_repair_rounds(None, Repair(maxRounds=3)) == 3
    assert max_repair_rounds(Repair(maxRounds=0), Repair(maxRounds=3)) == 0
    assert max_repair_rounds(Repair(), Repair(maxRounds=2)) == 2  # unset on the run
    with pytest.raises(ValidationError):
        Repair(maxRounds=-1)
    with pytest.raises(ValidationError):
        Repair(maxRounds=11)
    spec = RunSpec.model_validate({"projectRef": {"name": "p"}})
    assert spec.reuse is True and spec.repair is None


def test_a_failed_verification_starts_a_repair_round_with_its_output_as_input() -> None:
    decision = decide(RED)
    assert isinstance(decision, RepairRound)
    assert (decision.round, decision.task_id, decision.sequence) == (1, "task-004", 4)
    definition = decision.definition
    assert definition["role"] == "repair" and definition["slug"] == "repair-1"
    assert definition["pathScope"] == ["**"] and definition["expectedOutputs"] == []
    assert definition["dependencies"] == ["task-002", "task-003"]  # the plan's last tasks
    assert "AssertionError: 1 != 2" in definition["instructions"]
    assert MERGED[:12] in definition["instructions"]
    assert "python -m unittest" in definition["description"]
    # The definition passes the Task CRD's model.
    from prazium_kit.models import TaskDefinition

    assert TaskDefinition.model_validate(definition).role == "repair"


def test_the_output_given_to_a_repair_is_bounded() -> None:
    long = RED.model_copy(update={"output_tail": "x" * (REPAIR_OUTPUT_CHARS * 3) + "END"})
    decision = decide(long)
    assert isinstance(decision, RepairRound)
    assert "END" in decision.definition["instructions"]
    assert len(decision.definition["instructions"]) < REPAIR_OUTPUT_CHARS + 2000


def test_a_passing_verification_succeeds_and_says_how_many_rounds_it_took() -> None:
    assert decide(GREEN) == Outcome("succeeded", "built and verified")
    after = decide(GREEN, rounds_done=1)
    assert after == Outcome("succeeded", "built and verified after 1 repair round")


def test_spent_rounds_fail_the_run_with_their_own_reason() -> None:
    spent = decide(RED, rounds_done=2, max_rounds=2)
    assert isinstance(spent, Outcome) and spent.phase == "failed"
    assert spent.reason == run_status.REPAIR_ROUNDS_EXHAUSTED == "RepairRoundsExhausted"
    assert spent.message == f"verification failed after 2 repair rounds: {RED.summary}"


def test_no_round_when_repair_is_off_or_the_coder_cannot_repair() -> None:
    off = decide(RED, max_rounds=0)
    assert off == Outcome("failed", f"verification failed: {RED.summary}")  # as before
    template = decide(RED, coder="template")
    assert isinstance(template, Outcome) and template.reason is None
    assert template.message.endswith("(the template coder does not repair)")


def test_round_two_follows_the_repair_of_round_one_with_the_next_id() -> None:
    tasks = [*CHAIN, *plan(("task-004", ["task-002", "task-003"]), repair=("task-004",))]
    decision = decide(RED, rounds_done=1, max_rounds=3, tasks=tasks)
    assert isinstance(decision, RepairRound)
    assert (decision.round, decision.task_id, decision.sequence) == (2, "task-005", 5)
    assert decision.definition["dependencies"] == ["task-004"]
    assert repair_dependencies(tasks) == ["task-004"]


def test_repair_ids_follow_the_highest_task_id_and_end_at_999() -> None:
    assert repair_task_id(["task-001", "task-010", "task-003"]) == "task-011"
    assert repair_task_id(["task-999"]) is None
    full = decide(RED, tasks=plan(("task-999", [])))
    assert isinstance(full, Outcome) and "no task id is left" in full.message


def test_a_failed_repair_task_fails_the_run_as_repair_failed() -> None:
    failed = TaskView(
        "task-004", "repair-1", "failed", message="command exited with 1", repair=True
    )
    outcome = run_outcome(failed_task=failed, repair_rounds=1)
    assert outcome.reason == run_status.REPAIR_FAILED
    assert (
        outcome.message == "repair round 1: task task-004 (repair-1) failed: command exited with 1"
    )
    assert execution_round([failed], 3).failed == failed


# --------------------------------------------------------------------------- reuse


def earlier(**tasks: tuple[str, str | None, list[str]]) -> EarlierRun:
    """tasks: id -> (phase, commit, dependencies)."""
    return EarlierRun(
        name="notes-r1",
        project="notes",
        spec_version=1,
        base_commit="b" * 40,
        merged_commit=None,
        tasks={
            task_id: EarlierTask(
                id=task_id,
                definition=definition(task_id, deps),
                phase=phase,  # type: ignore[arg-type]
                commit=commit,
            )
            for task_id, (phase, commit, deps) in tasks.items()
        },
        merge_order=tuple(tasks),
        verify_command=("python", "-m", "unittest"),
    )


def definition(task_id: str, deps: list[str], **more: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "slug": f"s{task_id[-1]}",
        "description": "d",
        "instructions": "",
        "dependencies": deps,
        "pathScope": [f"{task_id}/**"],
        "expectedOutputs": [],
        **more,
    }


RUN1 = earlier(
    **{
        "task-001": ("succeeded", "c1", []),
        "task-002": ("succeeded", "c2", ["task-001"]),
        "task-003": ("failed", None, ["task-001"]),
        "task-004": ("cancelled", None, ["task-003"]),
    }
)


def test_a_succeeded_task_with_the_same_definition_and_inputs_is_reused() -> None:
    assert reusable(definition("task-001", []), {}, RUN1) == RUN1.tasks["task-001"]
    got = reusable(definition("task-002", ["task-001"]), {"task-001": "c1"}, RUN1)
    assert got is not None and got.commit == "c2"


def test_failed_cancelled_and_affected_tasks_run_again() -> None:
    assert reusable(definition("task-003", ["task-001"]), {"task-001": "c1"}, RUN1) is None
    assert reusable(definition("task-004", ["task-003"]), {"task-003": "new"}, RUN1) is None
    # A dependency that ran again produced another commit: the input changed.
    assert reusable(definition("task-002", ["task-001"]), {"task-001": "c1-new"}, RUN1) is None
    assert reusable(definition("task-002", ["task-001"]), {}, RUN1) is None


def test_a_changed_definition_or_an_unknown_task_runs() -> None:
    changed = definition("task-001", [], instructions="do it differently")
    assert reusable(changed, {}, RUN1) is None
    assert reusable(definition("task-009", []), {}, RUN1) is None
    repair = definition("task-001", [], role="repair")
    assert reusable(repair, {}, RUN1) is None


def test_the_start_must_match_the_retried_run() -> None:
    assert same_start(RUN1, "notes", 1, "b" * 40)
    assert not same_start(RUN1, "other", 1, "b" * 40)
    assert not same_start(RUN1, "notes", 2, "b" * 40)  # another spec version
    assert not same_start(RUN1, "notes", 1, "c" * 40)  # main moved meanwhile
    merged = EarlierRun(**{**RUN1.__dict__, "merged_commit": "m" * 40})
    assert same_start(merged, "notes", 1, "m" * 40)  # main moved by its own merge only


def test_a_retry_takes_over_the_plan_without_its_repair_tasks() -> None:
    with_repair = EarlierRun(
        **{
            **RUN1.__dict__,
            "tasks": {
                **RUN1.tasks,
                "task-005": EarlierTask(
                    id="task-005",
                    definition=definition("task-005", ["task-004"], role="repair"),
                    phase="succeeded",
                    commit="c5",
                ),
            },
            "merge_order": (*RUN1.merge_order, "task-005"),
        }
    )
    taken = retried_plan(with_repair)
    assert taken is not None
    assert [t["id"] for t in taken["tasks"]] == ["task-001", "task-002", "task-003", "task-004"]
    assert taken["mergeOrder"] == ["task-001", "task-002", "task-003", "task-004"]
    assert taken["verifyCommand"] == ["python", "-m", "unittest"]
    assert all("role" not in t for t in taken["tasks"])
    from prazium_kit.plan import validate_plan

    validate_plan(taken)
    incomplete = EarlierRun(**{**RUN1.__dict__, "complete": False})
    assert retried_plan(incomplete) is None
    assert retried_plan(EarlierRun(**{**RUN1.__dict__, "tasks": {}})) is None


def test_ready_tasks_are_those_whose_dependencies_succeeded() -> None:
    views = [
        TaskView("task-001", "a", "succeeded"),
        TaskView("task-002", "b", "pending", ("task-001",)),
        TaskView("task-003", "c", "queued", ("task-002",)),
    ]
    assert ready_tasks(views) == ["task-002"]


# -------------------------------------------------------------------------- reasons


def test_a_reason_overrides_the_phase_reason_and_survives_observing() -> None:
    status = RunStatus()
    run_status.set_phase(
        status,
        "failed",
        "verification failed after 1 repair round",
        2,
        reason=run_status.REPAIR_ROUNDS_EXHAUSTED,
    )
    reasons = {c.type: c.reason for c in status.conditions or []}
    assert reasons == dict.fromkeys(("Ready", "Reconciling", "Stalled"), "RepairRoundsExhausted")
    run_status.observe(status, 3)
    assert run_status.reason_of(status) == "RepairRoundsExhausted"
    run_status.set_phase(status, "failed", "x", 4)
    assert run_status.reason_of(status) == "Failed"


def test_a_reused_task_is_ready_with_reason_reused() -> None:
    status = TaskStatus()
    task_status.set_phase(status, "succeeded", "reused", 1, reason=task_status.REUSED)
    ready = next(c for c in status.conditions or [] if c.type == "Ready")
    assert (ready.status, ready.reason) == ("True", "Reused")


# ------------------------------------------------------------- the one-shot coder's context


def test_a_repair_task_is_shown_the_app_files_within_a_budget(tmp_path: Path) -> None:
    from prazium_operator.agents.structured.agent import app_files, current_files

    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("secret-ish")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.py").write_text("a" * 10)
    (tmp_path / "app" / "b.py").write_text("b" * 10)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text("t" * 10)
    (tmp_path / "link.py").symlink_to(tmp_path / "app" / "a.py")
    assert app_files(tmp_path) == ["app/a.py", "app/b.py", "tests/t.py"]
    shown = current_files(tmp_path, app_files(tmp_path), ["**"], budget=25)
    assert list(shown) == ["app/a.py", "app/b.py"]  # the third would pass the budget
    assert current_files(tmp_path, app_files(tmp_path), ["app/**"]) == {
        "app/a.py": "a" * 10,
        "app/b.py": "b" * 10,
    }
