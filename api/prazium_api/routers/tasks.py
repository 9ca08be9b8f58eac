"""A run's tasks: list and get (definition, branch, worktree, result)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from prazium_api import lookup, views
from prazium_api.deps import Caller, ok

router = APIRouter(tags=["tasks"])


@router.get("/projects/{projectId}/runs/{runId}/tasks", summary="List a run's tasks")
def list_tasks(projectId: str, runId: str, caller: Caller) -> dict[str, Any]:
    run = lookup.run(caller.tenant, projectId, runId)
    return ok([views.task_detail(t) for t in lookup.tasks(caller.tenant, run["metadata"]["name"])])


@router.get("/projects/{projectId}/runs/{runId}/tasks/{taskId}", summary="Get one task")
def get_task(projectId: str, runId: str, taskId: str, caller: Caller) -> dict[str, Any]:
    run = lookup.run(caller.tenant, projectId, runId)
    return ok(views.task_detail(lookup.task(caller.tenant, run["metadata"]["name"], taskId)))
