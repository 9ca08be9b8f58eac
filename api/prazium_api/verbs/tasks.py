"""A run's tasks: list and get (definition, branch, worktree, result), live or from
the run archive."""

from __future__ import annotations

from prazium_api.cluster import lookup
from prazium_api.contract import views
from prazium_api.contract.responses import TaskDetail
from prazium_api.db import Database


def list_of_run(tenant: str, project_id: str, run_id: str, database: Database) -> list[TaskDetail]:
    run = lookup.run(tenant, project_id, run_id, database)
    return [views.task_detail(t) for t in lookup.tasks(tenant, run.name, database)]


def get(tenant: str, project_id: str, run_id: str, task_id: str, database: Database) -> TaskDetail:
    run = lookup.run(tenant, project_id, run_id, database)
    return views.task_detail(lookup.task(tenant, run.name, task_id, database))
