"""status/{project,run,task}.py: one row per phase, and the conditions a phase writes."""

from __future__ import annotations

import typing

import pytest

from prazium_kit import journal, models
from prazium_kit.models import ProjectStatus, RunStatus, TaskStatus
from prazium_operator.status import project as project_status
from prazium_operator.status import run as run_status
from prazium_operator.status import task as task_status


@pytest.mark.parametrize(
    ("table", "phases"),
    [
        (project_status.PHASES, models.ProjectPhase),
        (run_status.PHASES, models.RunPhase),
        (task_status.PHASES, models.TaskPhase),
    ],
)
def test_every_phase_has_one_row(table: dict[str, object], phases: object) -> None:
    assert list(table) == list(typing.get_args(phases))


def conditions(status: RunStatus | TaskStatus | ProjectStatus) -> dict[str, str]:
    return {c.type: c.status for c in status.conditions or []}


def test_a_succeeded_task_is_ready_and_keeps_transition_times() -> None:
    status = TaskStatus()
    task_status.set_phase(status, "running", "attempt 1", 1)
    assert conditions(status) == {"Ready": "False", "Reconciling": "True", "Stalled": "False"}
    assert status.conditions is not None
    stalled_since = status.conditions[2].last_transition_time
    task_status.set_phase(status, "succeeded", "", 1)
    assert conditions(status) == {"Ready": "True", "Reconciling": "False", "Stalled": "False"}
    assert status.observed_generation == 1 and status.phase == "succeeded"
    assert status.conditions[2].last_transition_time == stalled_since  # unchanged status
    assert {c.reason for c in status.conditions} == {"Succeeded"}


def test_a_failed_run_is_stalled_with_its_message() -> None:
    status = RunStatus()
    run_status.set_phase(status, "failed", "task task-001 (a) failed: x", 3)
    assert conditions(status) == {"Ready": "False", "Reconciling": "False", "Stalled": "True"}
    assert status.conditions is not None
    assert status.conditions[0].message == "task task-001 (a) failed: x"
    assert status.conditions[0].observed_generation == 3
    assert run_status.PHASES["failed"].event_reason == "RunFailed"
    assert run_status.PHASES["succeeded"].journal_type == journal.RUN_COMPLETED


def test_project_phase_follows_spec_and_latest_run() -> None:
    status = ProjectStatus.model_validate({"spec": {"version": 1, "approvedVersion": 1}})
    assert project_status.project_phase(status, False) == "approved"
    status.latest_run = models.LatestRun(name="r", runNumber=1, phase="executing", specVersion=1)
    project_status.set_phase(status, False, 4)
    assert status.phase == "building"
    assert conditions(status) == {"Ready": "True", "Reconciling": "True", "Stalled": "False"}
    assert project_status.project_phase(status, True) == "archived"
    assert project_status.project_phase(ProjectStatus(), False) == "draft"
