"""Find a tenant's objects by API id. Objects of other tenants live in other
namespaces, so they are simply not found (404): existence is never revealed.

Given the database, a Run (and its Tasks) pruned from the cluster by retention is
found in the run archive (history.py); the archive is per namespace too."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from prazium_api.cluster import crs, history
from prazium_api.contract.errors import ApiError, conflict
from prazium_api.db import Database
from prazium_kit import ids
from prazium_kit.kinds import PROJECT, RUN, TASK, Kind, Project, Resource, Run, Task
from prazium_kit.kube import LABEL_RUN

S = TypeVar("S", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)


def project_name(project_id: str) -> str:
    try:
        return ids.project_name(project_id)
    except ids.InvalidId as exc:
        raise ApiError("NOT_FOUND", f"project {project_id} not found") from exc


def run_name(run_id: str) -> str:
    try:
        return ids.run_name(run_id)
    except ids.InvalidId as exc:
        raise ApiError("NOT_FOUND", f"run {run_id} not found") from exc


def project(namespace: str, project_id: str) -> Project:
    return crs.get(namespace, PROJECT, project_name(project_id), f"project {project_id}")


async def project_async(namespace: str, project_id: str) -> Project:
    """project() for an async route: from the read cache in the event loop, else from
    the apiserver in a worker thread."""
    found = crs.cached(namespace, PROJECT, project_name(project_id))
    if found is not None:
        return found
    return await run_in_threadpool(project, namespace, project_id)


def _live_or_archived(
    namespace: str,
    kind: Kind[S, T],
    name: str,
    what: str,
    archived: Callable[[], Resource[S, T] | None] | None,
) -> Resource[S, T]:
    try:
        return crs.get(namespace, kind, name, what)
    except ApiError as exc:
        if archived is None or exc.code != "NOT_FOUND":
            raise
        found = archived()
        if found is None:
            raise
        return found


def run(namespace: str, project_id: str, run_id: str, database: Database | None = None) -> Run:
    """The run, checked to belong to the project (else 404); a pruned one from the
    archive when database is given."""
    name = project_name(project_id)
    cr_name = run_name(run_id)
    archived = None if database is None else (lambda: history.run(database, namespace, cr_name))
    found = _live_or_archived(namespace, RUN, cr_name, f"run {run_id}", archived)
    if found.spec.project_ref.name != name:
        raise ApiError("NOT_FOUND", f"run {run_id} not found")
    return found


def run_of_tenant(namespace: str, run_id: str, database: Database) -> Run:
    """A run of any project of the tenant (a WebSocket channel names only the run),
    live or pruned from the archive; 404 otherwise."""
    cr_name = run_name(run_id)
    return _live_or_archived(
        namespace, RUN, cr_name, f"run {run_id}", lambda: history.run(database, namespace, cr_name)
    )


def tasks(namespace: str, run_cr_name: str, database: Database | None = None) -> list[Task]:
    items = crs.list_objects(namespace, TASK, label_selector=f"{LABEL_RUN}={run_cr_name}")
    if not items and database is not None:  # none live: a pruned run's, if archived
        items = history.tasks(database, namespace, run_cr_name)
    items = [t for t in items if t.spec.run_ref.name == run_cr_name]
    return sorted(items, key=lambda t: (t.spec.sequence, t.name))


def task(namespace: str, run_cr_name: str, task_id: str, database: Database | None = None) -> Task:
    try:
        definition_id = ids.task_definition_id(task_id)
    except ids.InvalidId as exc:
        raise ApiError("NOT_FOUND", f"task {task_id} not found") from exc
    cr_name = ids.task_cr_name(run_cr_name, definition_id)

    def archived() -> Task | None:
        assert database is not None
        found = history.tasks(database, namespace, run_cr_name)
        return next((t for t in found if t.name == cr_name), None)

    found = _live_or_archived(
        namespace, TASK, cr_name, f"task {task_id}", None if database is None else archived
    )
    if found.spec.run_ref.name != run_cr_name:
        raise ApiError("NOT_FOUND", f"task {task_id} not found")
    return found


def merged_run(namespace: str, project_id: str, run_id: str) -> tuple[Project, Run, str]:
    """(project, run, commit) for a run whose work is merged; 409 otherwise."""
    found = project(namespace, project_id)
    merged = run(namespace, project_id, run_id)
    commit = merged.status.merged_commit
    if not commit:
        phase = merged.status.phase or "pending"
        raise conflict(f"run {run_id} has no merged commit (status {phase})", {"status": phase})
    return found, merged, str(commit)
