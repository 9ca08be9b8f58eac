"""A run's tasks: list and get (verbs/tasks.py)."""

from __future__ import annotations

from prazium_api.contract.responses import Ok, TaskDetail, ok, ok_list
from prazium_api.routers.deps import Caller, Db
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import tasks

router = ApiRouter(tags=["Tasks"])


@router.get(
    "/projects/{projectId}/runs/{runId}/tasks",
    summary="List a run's tasks",
    operation_id="listTasks",
    response_model=Ok[list[TaskDetail]],
)
def list_tasks(projectId: str, runId: str, caller: Caller, database: Db) -> Ok[list[TaskDetail]]:
    return ok_list(TaskDetail, tasks.list_of_run(caller.tenant, projectId, runId, database))


@router.get(
    "/projects/{projectId}/runs/{runId}/tasks/{taskId}",
    summary="Get one task",
    operation_id="getTask",
    response_model=Ok[TaskDetail],
)
def get_task(
    projectId: str, runId: str, taskId: str, caller: Caller, database: Db
) -> Ok[TaskDetail]:
    return ok(tasks.get(caller.tenant, projectId, runId, taskId, database))
