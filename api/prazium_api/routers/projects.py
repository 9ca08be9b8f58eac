"""Projects and their spec: create, list, get, update, archive; clarify, answers,
approve, regenerate (synchronous over the operator, see sync.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query

from prazium_api.cluster import crs, lookup, naming
from prazium_api.cluster.sync import wait_for_operator
from prazium_api.contract import views
from prazium_api.contract.errors import ApiError, conflict, invalid
from prazium_api.contract.requests import CreateProject, Regenerate, SubmitAnswers, UpdateProject
from prazium_api.contract.responses import (
    Ok,
    OkPage,
    ProjectArchived,
    ProjectCreated,
    ProjectDetail,
    ProjectSummary,
    Questions,
    SpecApproved,
    SpecRegenerated,
    SpecWritten,
    ok,
    ok_page,
)
from prazium_api.routers.deps import BaseUrl, Caller, Paging, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_kit import models
from prazium_kit.kinds import PROJECT, Project
from prazium_kit.kube import LABEL_MANAGED_BY
from prazium_kit.models import PROJECT_APPROVED_PHASES, PROJECT_SPEC_PHASES, ProjectPhase

router = ApiRouter(tags=["Projects"])
spec_router = ApiRouter(tags=["Spec Generation"])


@router.post(
    "/projects",
    status_code=201,
    summary="Create a project",
    operation_id="createProject",
    response_model=Ok[ProjectCreated],
)
def create_project(
    body: CreateProject, caller: Caller, settings: Settings, base_url: BaseUrl
) -> Ok[ProjectCreated]:
    project = crs.create(
        caller.tenant,
        PROJECT,
        {"name": naming.new_project_name(body.name), "labels": {LABEL_MANAGED_BY: "prazium-api"}},
        models.ProjectSpec(displayName=body.name, description=body.description),
        "project",
    )
    return ok(views.project_created(project, settings.data_dir, base_url))


@router.get(
    "/projects",
    summary="List projects",
    operation_id="listProjects",
    response_model=OkPage[ProjectSummary],
)
def list_projects(
    caller: Caller,
    paging: Paging,
    settings: Settings,
    base_url: BaseUrl,
    status: Annotated[ProjectPhase | None, Query(description="Filter by status")] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Search name/description")
    ] = None,
) -> OkPage[ProjectSummary]:
    items = crs.project_lists.get(caller.tenant, settings.list_cache_seconds)
    if status is not None:
        items = [p for p in items if views.project_phase(p) == status]
    if search:
        needle = search.casefold()
        items = [
            p
            for p in items
            if needle in p.spec.display_name.casefold() or needle in p.spec.description.casefold()
        ]
    # Newest first already (crs.project_lists), filters keep the order.
    page, pagination = paging.apply(items)
    summaries = [views.project_summary(p, base_url) for p in page]
    return ok_page(ProjectSummary, summaries, pagination)


@router.get(
    "/projects/{projectId}",
    summary="Get a project with its spec documents",
    operation_id="getProject",
    response_model=Ok[ProjectDetail],
)
async def get_project(
    projectId: str, caller: Caller, settings: Settings, base_url: BaseUrl
) -> Ok[ProjectDetail]:
    # Async: a read from the cache needs no worker thread (the hop costs more than it).
    project = await lookup.project_async(caller.tenant, projectId)
    return ok(views.project_detail(project, settings.data_dir, base_url))


@router.patch(
    "/projects/{projectId}",
    summary="Update name and/or description",
    operation_id="updateProject",
    response_model=Ok[ProjectDetail],
)
def update_project(
    projectId: str, body: UpdateProject, caller: Caller, settings: Settings, base_url: BaseUrl
) -> Ok[ProjectDetail]:
    project = lookup.project(caller.tenant, projectId)
    changes = {"display_name": body.name, "description": body.description}
    given = {field: value for field, value in changes.items() if value is not None}
    if given:
        project = crs.patch_spec(
            caller.tenant, PROJECT, project.name, f"project {projectId}", **given
        )
    return ok(views.project_detail(project, settings.data_dir, base_url))


@router.delete(
    "/projects/{projectId}",
    summary="Archive a project (a soft delete)",
    operation_id="deleteProject",
    response_model=Ok[ProjectArchived],
)
def archive_project(projectId: str, caller: Caller) -> Ok[ProjectArchived]:
    project = lookup.project(caller.tenant, projectId)
    crs.patch_spec(caller.tenant, PROJECT, project.name, f"project {projectId}", archived=True)
    return ok(ProjectArchived(id=projectId, status="archived"))


def _refuse_archived(project: Project, project_id: str) -> None:
    if project.spec.archived:
        raise conflict(f"project {project_id} is archived")


@spec_router.post(
    "/projects/{projectId}/clarify",
    summary="Get clarifying questions",
    operation_id="getClarifyingQuestions",
    response_model=Ok[Questions],
)
def clarify(projectId: str, caller: Caller, settings: Settings) -> Ok[Questions]:
    project = lookup.project(caller.tenant, projectId)
    _refuse_archived(project, projectId)
    project = wait_for_operator(
        caller.tenant,
        project.name,
        project.generation,
        lambda p: p.status.questions is not None,
        f"project {projectId}",
        "write clarifying questions",
        settings.sync_timeout_seconds,
    )
    return ok(views.questions(project))


@spec_router.post(
    "/projects/{projectId}/answers",
    summary="Submit answers; returns the spec",
    operation_id="submitAnswers",
    response_model=Ok[SpecWritten],
)
def submit_answers(
    projectId: str, body: SubmitAnswers, caller: Caller, settings: Settings
) -> Ok[SpecWritten]:
    project = lookup.project(caller.tenant, projectId)
    _refuse_archived(project, projectId)
    questions = project.status.questions
    if questions is None:
        raise conflict(
            f"project {projectId} has no clarifying questions yet:"
            " call POST /projects/{projectId}/clarify first"
        )
    known = {q.id for q in questions}
    unknown = [a.questionId for a in body.answers if a.questionId not in known]
    if unknown:
        raise ApiError(
            "VALIDATION_ERROR",
            f"unknown question ids: {', '.join(unknown)}",
            {
                "fields": [
                    {"field": "answers.questionId", "message": f"unknown {q}"} for q in unknown
                ]
            },
        )
    seen: set[str] = set()
    for answer in body.answers:
        if answer.questionId in seen:
            raise invalid(f"question {answer.questionId} answered twice", "answers.questionId")
        seen.add(answer.questionId)
    answers = [models.Answer(questionId=a.questionId, answer=a.answer) for a in body.answers]
    patched = crs.patch_spec(
        caller.tenant, PROJECT, project.name, f"project {projectId}", answers=answers
    )
    project = wait_for_operator(
        caller.tenant,
        patched.name,
        patched.generation,
        lambda p: (
            views.project_phase(p) in PROJECT_SPEC_PHASES and views.current_spec(p) is not None
        ),
        f"project {projectId}",
        "write the spec",
        settings.sync_timeout_seconds,
    )
    return ok(views.spec_written(project))


@spec_router.post(
    "/projects/{projectId}/approve",
    summary="Approve the current spec version",
    operation_id="approveSpec",
    response_model=Ok[SpecApproved],
)
def approve(projectId: str, caller: Caller, settings: Settings) -> Ok[SpecApproved]:
    project = lookup.project(caller.tenant, projectId)
    _refuse_archived(project, projectId)
    written = project.status.spec
    phase = views.project_phase(project)
    if written is None or not written.version or phase not in PROJECT_SPEC_PHASES:
        raise conflict(f"project {projectId} has no spec to approve (status {phase})")
    patched = crs.patch_spec(
        caller.tenant,
        PROJECT,
        project.name,
        f"project {projectId}",
        approval=models.Approval(specVersion=written.version),
    )

    def approved(p: Project) -> bool:
        current = views.current_spec(p)
        return (
            current is not None
            and bool(current.approvedAt)
            and views.project_phase(p) in PROJECT_APPROVED_PHASES
        )

    project = wait_for_operator(
        caller.tenant,
        patched.name,
        patched.generation,
        approved,
        f"project {projectId}",
        "approve the spec",
        settings.sync_timeout_seconds,
    )
    return ok(views.spec_approved(project))


@spec_router.post(
    "/projects/{projectId}/regenerate",
    summary="Regenerate the spec, with feedback",
    operation_id="regenerateSpec",
    response_model=Ok[SpecRegenerated],
)
def regenerate(
    projectId: str,
    caller: Caller,
    settings: Settings,
    body: Annotated[Regenerate | None, Body()] = None,
) -> Ok[SpecRegenerated]:
    project = lookup.project(caller.tenant, projectId)
    _refuse_archived(project, projectId)
    written = project.status.spec
    phase = views.project_phase(project)
    if written is None or not written.version or phase not in PROJECT_SPEC_PHASES - {"building"}:
        raise conflict(f"project {projectId} cannot regenerate its spec in status {phase}")
    previous = project.spec.regenerate
    revision = (previous.revision if previous is not None else 0) + 1
    feedback = body.feedback if body is not None and body.feedback else None
    patched = crs.patch_spec(
        caller.tenant,
        PROJECT,
        project.name,
        f"project {projectId}",
        regenerate=models.Regenerate(revision=revision, feedback=feedback),
    )
    old_version = written.version

    def regenerated(p: Project) -> bool:
        current = views.current_spec(p)
        version = 0 if current is None else int(current.version or 0)
        return version > old_version and views.project_phase(p) == "spec_review"

    project = wait_for_operator(
        caller.tenant,
        patched.name,
        patched.generation,
        regenerated,
        f"project {projectId}",
        "regenerate the spec",
        settings.sync_timeout_seconds,
    )
    return ok(views.spec_regenerated(project))
