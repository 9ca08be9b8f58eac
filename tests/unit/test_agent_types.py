"""The shapes planners and coders exchange (prazium_kit.agentapi) as the worker reads them."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from prazium_kit.agentapi import plan_task
from prazium_kit.models import PlannedTask


def test_a_stored_task_reaches_the_coder_unchanged_with_its_unknown_fields() -> None:
    stored = PlannedTask.model_validate(
        {
            "id": "task-001",
            "slug": "shell",
            "description": "App shell",
            "dependencies": [],
            "pathScope": ["app/**"],
            "expectedOutputs": ["app/x.py"],
            "owner": {"team": "web"},
        }
    ).as_stored()
    task = plan_task(json.loads(json.dumps(stored)))
    assert task == stored
    assert list(task) == list(stored)  # PRAZIUM_TASK_JSON keeps its key order


def test_a_task_without_path_scope_is_refused() -> None:
    with pytest.raises(ValidationError, match="pathScope"):
        plan_task({"id": "task-001", "slug": "shell"})
