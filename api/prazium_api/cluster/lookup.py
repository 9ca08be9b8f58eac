"""Find a tenant's objects by API id. Objects of other tenants live in other
namespaces, so they are simply not found (404): existence is never revealed.

Given the database, a Run (and its Tasks) pruned from the cluster by retention is
found in the run archive (history.py); the archive is per namespace too."""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from prazium_api.cluster import crs, history
from prazium_api.contract.errors import ApiError, conflict
from prazium_api.db import Database
from prazium_kit import ids
from prazium_kit.kube import LABEL_RUN, PROJECTS, RUNS, TASKS
from prazium_kit.types import Obj


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


def project(namespace: str, project_id: str) -> Obj:
    return crs.get(namespace, PROJECTS, project_name(project_id), f"project {project_id}")


async def project_async(namespace: str, project_id: str) -> Obj:
    """project() for an async route: from the read cache in the event loop, else from
    the apiserver in a worker thread."""
    found = crs.cached(namespace, PROJECTS, project_name(project_id))
    if found is not None:
        return found
    return await run_in_threadpool(project, namespace, project_id)


def _live_or_archived(
    namespace: str, plural: str, name: str, what: str, archived: Callable[[], Obj | None] | None
) -> Obj:
    try:
        return crs.get(namespace, plural, name, what)
    except ApiError as exc:
        if archived is None or exc.code != "NOT_FOUND":
            raise
        found = archived()
        if found is None:
            raise
        return found


def run(namespace: str, project_id: str, run_id: str, database: Database | None = None) -> Obj:
    """The run, checked to belong to the project (else 404); a pruned one from the
    archive when database is given."""
    name = project_name(project_id)
    cr_name = run_name(run_id)
    archived = None if database is None else (lambda: history.run(database, namespace, cr_name))
    obj = _live_or_archived(namespace, RUNS, cr_name, f"run {run_id}", archived)
    if obj.get("spec", {}).get("projectRef", {}).get("name") != name:
        raise ApiError("NOT_FOUND", f"run {run_id} not found")
    return obj


def run_of_tenant(namespace: str, run_id: str, database: Database) -> Obj:
    """A run of any project of the tenant (a WebSocket channel names only the run),
    live or pruned from the archive; 404 otherwise."""
    cr_name = run_name(run_id)
    return _live_or_archived(
        namespace,
        RUNS,
        cr_name,
        f"run {run_id}",
        lambda: history.run(database, namespace, cr_name),
    )


def tasks(namespace: str, run_cr_name: str, database: Database | None = None) -> list[Obj]:
    items = crs.list_objects(namespace, TASKS, label_selector=f"{LABEL_RUN}={run_cr_name}")
    if not items and database is not None:  # none live: a pruned run's, if archived
        items = history.tasks(database, namespace, run_cr_name)
    items = [t for t in items if t.get("spec", {}).get("runRef", {}).get("name") == run_cr_name]
    return sorted(
        items, key=lambda t: (t.get("spec", {}).get("sequence") or 0, t["metadata"]["name"])
    )


def task(namespace: str, run_cr_name: str, task_id: str, database: Database | None = None) -> Obj:
    try:
        definition_id = ids.task_definition_id(task_id)
    except ids.InvalidId as exc:
        raise ApiError("NOT_FOUND", f"task {task_id} not found") from exc
    cr_name = ids.task_cr_name(run_cr_name, definition_id)

    def archived() -> Obj | None:
        assert database is not None
        found = [t for t in history.tasks(database, namespace, run_cr_name)]
        return next((t for t in found if t["metadata"]["name"] == cr_name), None)

    obj = _live_or_archived(
        namespace, TASKS, cr_name, f"task {task_id}", None if database is None else archived
    )
    if obj.get("spec", {}).get("runRef", {}).get("name") != run_cr_name:
        raise ApiError("NOT_FOUND", f"task {task_id} not found")
    return obj


def merged_run(namespace: str, project_id: str, run_id: str) -> tuple[Obj, Obj, str]:
    """(project, run, commit) for a run whose work is merged; 409 otherwise."""
    found = project(namespace, project_id)
    obj = run(namespace, project_id, run_id)
    commit = obj.get("status", {}).get("mergedCommit")
    if not commit:
        phase = obj.get("status", {}).get("phase") or "pending"
        raise conflict(f"run {run_id} has no merged commit (status {phase})", {"status": phase})
    return found, obj, str(commit)
