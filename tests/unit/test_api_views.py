"""The API's answers from typed resources: the keys the contract shows, values as the
status stores them, and spec writes checked against the kit's spec models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from prazium_api.cluster.crs import spec_changes
from prazium_api.contract import responses, views
from prazium_kit import models
from prazium_kit.kinds import PROJECT, RUN, TASK


def _answer(model: type, value: object) -> Any:
    """As FastAPI sends it (routers/routing.py: exclude_unset, by alias)."""
    adapter = TypeAdapter(model)
    return adapter.serializer.to_python(
        adapter.validate_python(value), exclude_unset=True, by_alias=True, mode="json"
    )


def _run(status: dict[str, object]) -> dict[str, object]:
    return {
        "metadata": {
            "name": "shop-r1",
            "namespace": "t",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"projectRef": {"name": "shop"}, "trigger": "manual", "parallelism": 3},
        "status": status,
    }


def test_a_run_passes_stored_status_parts_on_as_stored() -> None:
    stored = {"exitCode": 0, "durationSeconds": 3, "summary": "2 passed"}
    run = RUN.of(_run({"phase": "succeeded", "verificationResult": stored, "plan": {}}))
    detail = _answer(
        responses.Ok[responses.RunDetail], responses.ok(views.run_detail(run, [], None))
    )
    data = detail["data"]
    assert data["verificationResult"] == stored  # no key added, 3 not 3.0
    assert isinstance(data["verificationResult"]["durationSeconds"], int)
    assert data["tasksJson"] is None  # an empty stored plan is no plan
    assert data["specSnapshot"] is None and data["tasks"] == []
    assert data["tasksSummary"] == dict.fromkeys(
        ("total", "pending", "queued", "running", "succeeded", "failed", "cancelled"), 0
    )


def test_a_plan_without_a_verify_command_answers_null() -> None:
    plan = {"tasks": [{"id": "task-001", "slug": "a", "pathScope": ["a/**"], "kind": "x"}]}
    run = RUN.of(_run({"plan": plan}))
    tasks_json = views.run_detail(run, [], None).tasksJson
    assert tasks_json is not None and tasks_json.verifyCommand is None
    assert tasks_json.tasks == plan["tasks"]  # the planner's own keys kept
    assert tasks_json.mergeOrder == []


def test_a_task_answers_the_contracts_defaults() -> None:
    task = TASK.of(
        {
            "metadata": {"name": "shop-r1-task-001", "namespace": "t"},
            "spec": {
                "runRef": {"name": "shop-r1"},
                "projectRef": {"name": "shop"},
                "sequence": 1,
                "definition": {
                    "id": "task-001",
                    "slug": "a",
                    "description": "d",
                    "pathScope": ["a/**"],
                },
            },
            "status": {"worktreePath": "/data/workspaces/t/shop/shop-r1/task-001"},
        }
    )
    detail = _answer(responses.TaskDetail, views.task_detail(task))
    assert detail["id"] == "task_001" and detail["status"] == "pending"
    assert detail["definition"]["instructions"] == ""
    assert detail["attempts"] == 0 and detail["result"] is None
    assert detail["worktreePath"] == "workspaces/t/shop/shop-r1/task-001"


def test_a_project_shows_its_questions_as_asked() -> None:
    project = PROJECT.of(
        {
            "metadata": {"name": "shop", "namespace": "t"},
            "spec": {"displayName": "Shop", "description": "a small shop", "archived": True},
            "status": {
                "phase": "clarifying",
                "questions": [{"id": "q1", "question": "Colour?", "type": "text"}],
                "latestRun": {"name": "shop-r1"},
            },
        }
    )
    detail = _answer(responses.ProjectDetail, views.project_detail(project, Path("/data"), "h"))
    assert detail["status"] == "archived"
    assert detail["questions"] == [{"id": "q1", "question": "Colour?", "type": "text"}]
    assert detail["latestRun"] == {"id": "run_shop-r1", "runNumber": None, "status": "pending"}
    assert detail["cloneUrl"] == "h/v1/projects/proj_shop/git"
    assert detail["spec"] is None and detail["repoPath"] == "repos/t/shop.git"


def test_spec_changes_are_checked_against_the_spec_model() -> None:
    regenerate = models.Regenerate(revision=2, feedback=None)
    assert spec_changes(PROJECT, regenerate=regenerate) == {"regenerate": {"revision": 2}}
    answers = [models.Answer.of("q1", ["a", "b"])]
    assert spec_changes(PROJECT, answers=answers, archived=False) == {
        "answers": [{"questionId": "q1", "choices": ["a", "b"]}],
        "archived": False,
    }
    with pytest.raises(ValidationError):
        spec_changes(PROJECT, description="short")  # under the CRD's 10 characters
    with pytest.raises(ValidationError):
        spec_changes(RUN, cancelled=True)  # not a field of a Run's spec
