"""Find a tenant's objects by API id. Objects of other tenants live in other
namespaces, so they are simply not found (404): existence is never revealed."""

from __future__ import annotations

from prazium_api import crs
from prazium_api.errors import ApiError, conflict
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


def run(namespace: str, project_id: str, run_id: str) -> Obj:
    """The run, checked to belong to the project (else 404)."""
    name = project_name(project_id)
    obj = crs.get(namespace, RUNS, run_name(run_id), f"run {run_id}")
    if obj.get("spec", {}).get("projectRef", {}).get("name") != name:
        raise ApiError("NOT_FOUND", f"run {run_id} not found")
    return obj


def tasks(namespace: str, run_cr_name: str) -> list[Obj]:
    items = crs.list_objects(namespace, TASKS, label_selector=f"{LABEL_RUN}={run_cr_name}")
    items = [t for t in items if t.get("spec", {}).get("runRef", {}).get("name") == run_cr_name]
    return sorted(
        items, key=lambda t: (t.get("spec", {}).get("sequence") or 0, t["metadata"]["name"])
    )


def task(namespace: str, run_cr_name: str, task_id: str) -> Obj:
    try:
        definition_id = ids.task_definition_id(task_id)
    except ids.InvalidId as exc:
        raise ApiError("NOT_FOUND", f"task {task_id} not found") from exc
    obj = crs.get(namespace, TASKS, ids.task_cr_name(run_cr_name, definition_id), f"task {task_id}")
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
