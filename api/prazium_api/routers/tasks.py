"""A run's tasks: list and get (definition, branch, worktree, result)."""

from __future__ import annotations

from prazium_api.cluster import lookup
from prazium_api.contract import views
from prazium_api.contract.responses import Ok, TaskDetail, ok, ok_list
from prazium_api.routers.deps import Caller, Db
from prazium_api.routers.routing import ApiRouter

router = ApiRouter(tags=["Tasks"])


@router.get(
    "/projects/{projectId}/runs/{runId}/tasks",
    summary="List a run's tasks",
    operation_id="listTasks",
    response_model=Ok[list[TaskDetail]],
)
def list_tasks(projectId: str, runId: str, caller: Caller, database: Db) -> Ok[list[TaskDetail]]:
    run = lookup.run(caller.tenant, projectId, runId, database)
    tasks = lookup.tasks(caller.tenant, run.name, database)
    return ok_list(TaskDetail, [views.task_detail(t) for t in tasks])


@router.get(
    "/projects/{projectId}/runs/{runId}/tasks/{taskId}",
    summary="Get one task",
    operation_id="getTask",
    response_model=Ok[TaskDetail],
)
def get_task(
    projectId: str, runId: str, taskId: str, caller: Caller, database: Db
) -> Ok[TaskDetail]:
    run = lookup.run(caller.tenant, projectId, runId, database)
    task = lookup.task(caller.tenant, run.name, taskId, database)
    return ok(views.task_detail(task))
