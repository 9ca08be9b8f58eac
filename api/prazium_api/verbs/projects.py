"""Projects: create, list (filter, search, page), get, update name/description,
archive, unarchive."""

from __future__ import annotations

from pathlib import Path

from prazium_api.cluster import crs, lookup, naming, sync
from prazium_api.contract import views
from prazium_api.contract.requests import CreateProject, UpdateProject
from prazium_api.contract.responses import (
    Page,
    Pagination,
    ProjectArchived,
    ProjectCreated,
    ProjectDetail,
    ProjectSummary,
    ProjectUnarchived,
)
from prazium_kit.kinds import PROJECT
from prazium_kit.kube import LABEL_MANAGED_BY
from prazium_kit.models import ProjectPhase, ProjectSpec


def create(tenant: str, body: CreateProject, data_dir: Path, base_url: str) -> ProjectCreated:
    project = crs.create(
        tenant,
        PROJECT,
        {"name": naming.new_project_name(body.name), "labels": {LABEL_MANAGED_BY: "prazium-api"}},
        ProjectSpec(displayName=body.name, description=body.description),
        "project",
    )
    return views.project_created(project, data_dir, base_url)


def page(
    tenant: str,
    paging: Page,
    status: ProjectPhase | None,
    search: str | None,
    base_url: str,
    list_cache_seconds: float,
    archived: bool | None = None,
) -> tuple[list[ProjectSummary], Pagination]:
    """The tenant's projects newest first (crs.project_lists), filtered by status, by
    whether they are archived (None: either) and by a search of name and description
    (the filters keep the order), one page."""
    items = crs.project_lists.get(tenant, list_cache_seconds)
    if status is not None:
        items = [p for p in items if views.project_phase(p) == status]
    if archived is not None:
        items = [p for p in items if p.spec.archived == archived]
    if search:
        needle = search.casefold()
        items = [
            p
            for p in items
            if needle in p.spec.display_name.casefold() or needle in p.spec.description.casefold()
        ]
    shown, pagination = paging.apply(items)
    return [views.project_summary(p, base_url) for p in shown], pagination


async def get(tenant: str, project_id: str, data_dir: Path, base_url: str) -> ProjectDetail:
    """Async: a read from the cache needs no worker thread (the hop costs more than it)."""
    project = await lookup.project_async(tenant, project_id)
    return views.project_detail(project, data_dir, base_url)


def update(
    tenant: str, project_id: str, body: UpdateProject, data_dir: Path, base_url: str
) -> ProjectDetail:
    """Set the name and/or the description given; neither: the project unchanged."""
    project = lookup.project(tenant, project_id)
    changes = {"display_name": body.name, "description": body.description}
    given = {field: value for field, value in changes.items() if value is not None}
    if given:
        project = crs.patch_spec(tenant, PROJECT, project.name, f"project {project_id}", **given)
    return views.project_detail(project, data_dir, base_url)


def archive(tenant: str, project_id: str) -> ProjectArchived:
    """A soft delete: spec.archived is set and the Project stays (its spec can no
    longer change and no run of it starts)."""
    project = lookup.project(tenant, project_id)
    crs.patch_spec(tenant, PROJECT, project.name, f"project {project_id}", archived=True)
    return ProjectArchived(id=project_id, status="archived")


def unarchive(tenant: str, project_id: str, timeout: float) -> ProjectUnarchived:
    """Undo archive(): spec.archived cleared, then wait (bounded) for the operator to
    give the project its phase back. A project that is not archived answers as it is."""
    project = lookup.project(tenant, project_id)
    what = f"project {project_id}"
    if project.spec.archived:
        written = crs.patch_spec(tenant, PROJECT, project.name, what, archived=False)
        project = sync.wait_for_operator(
            tenant,
            written.name,
            written.generation,
            lambda now: now.status.phase not in (None, "archived"),
            what,
            "unarchive the project",
            timeout,
        )
    return ProjectUnarchived(id=project_id, status=views.project_phase(project))
