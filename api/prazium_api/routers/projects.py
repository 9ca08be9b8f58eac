"""Projects and their spec: create, list, get, update, archive; clarify, answers,
approve, regenerate (verbs/projects.py, verbs/spec.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Request

from prazium_api.contract.requests import CreateProject, Regenerate, SubmitAnswers, UpdateProject
from prazium_api.contract.responses import (
    Ok,
    OkPage,
    ProjectArchived,
    ProjectCreated,
    ProjectDetail,
    ProjectSummary,
    ProjectUnarchived,
    Questions,
    SpecApproved,
    SpecRegenerated,
    SpecWritten,
    ok,
    ok_page,
)
from prazium_api.routers.deps import Caller, Paging, Settings, base_url
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import projects, spec
from prazium_kit.models import ProjectPhase

router = ApiRouter(tags=["Projects"])
spec_router = ApiRouter(tags=["Spec Generation"])
StatusFilter = Annotated[ProjectPhase | None, Query(description="Filter by status")]
Search = Annotated[str | None, Query(max_length=200, description="Search name/description")]
ArchivedFilter = Annotated[
    bool | None,
    Query(
        description="Extension (not in the contract): false leaves archived projects out,"
        " true lists only them; absent: both, as the contract lists them"
    ),
]


@router.post(
    "/projects",
    status_code=201,
    summary="Create a project",
    operation_id="createProject",
    response_model=Ok[ProjectCreated],
)
def create_project(
    body: CreateProject, caller: Caller, settings: Settings, request: Request
) -> Ok[ProjectCreated]:
    base = base_url(request, settings)
    return ok(projects.create(caller.tenant, body, settings.data_dir, base))


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
    request: Request,
    status: StatusFilter = None,
    search: Search = None,
    archived: ArchivedFilter = None,
) -> OkPage[ProjectSummary]:
    base = base_url(request, settings)
    found, pagination = projects.page(
        caller.tenant, paging, status, search, base, settings.list_cache_seconds, archived
    )
    return ok_page(ProjectSummary, found, pagination)


@router.get(
    "/projects/{projectId}",
    summary="Get a project with its spec documents",
    operation_id="getProject",
    response_model=Ok[ProjectDetail],
)
async def get_project(
    projectId: str, caller: Caller, settings: Settings, request: Request
) -> Ok[ProjectDetail]:
    base = base_url(request, settings)
    return ok(await projects.get(caller.tenant, projectId, settings.data_dir, base))


@router.patch(
    "/projects/{projectId}",
    summary="Update name and/or description",
    operation_id="updateProject",
    response_model=Ok[ProjectDetail],
)
def update_project(
    projectId: str, body: UpdateProject, caller: Caller, settings: Settings, request: Request
) -> Ok[ProjectDetail]:
    base = base_url(request, settings)
    return ok(projects.update(caller.tenant, projectId, body, settings.data_dir, base))


@router.delete(
    "/projects/{projectId}",
    summary="Archive a project (a soft delete)",
    operation_id="deleteProject",
    response_model=Ok[ProjectArchived],
)
def archive_project(projectId: str, caller: Caller) -> Ok[ProjectArchived]:
    return ok(projects.archive(caller.tenant, projectId))


@router.post(
    "/projects/{projectId}/unarchive",
    summary="Unarchive a project",
    description="Extension (not in the contract): undoes DELETE /projects/{projectId}."
    " The project takes the phase its spec and runs give it again (the answer waits for"
    " the operator, like the spec routes); a project that is not archived answers as it"
    " is. 404 for an unknown project, 500 (reason OPERATOR_TIMEOUT) when the operator"
    " does not answer in time (the change stays).",
    operation_id="unarchiveProject",
    response_model=Ok[ProjectUnarchived],
)
def unarchive_project(projectId: str, caller: Caller, settings: Settings) -> Ok[ProjectUnarchived]:
    return ok(projects.unarchive(caller.tenant, projectId, settings.sync_timeout_seconds))


@spec_router.post(
    "/projects/{projectId}/clarify",
    summary="Get clarifying questions",
    operation_id="getClarifyingQuestions",
    response_model=Ok[Questions],
)
def clarify(projectId: str, caller: Caller, settings: Settings) -> Ok[Questions]:
    return ok(spec.clarify(caller.tenant, projectId, settings.sync_timeout_seconds))


@spec_router.post(
    "/projects/{projectId}/answers",
    summary="Submit answers; returns the spec",
    operation_id="submitAnswers",
    response_model=Ok[SpecWritten],
)
def submit_answers(
    projectId: str, body: SubmitAnswers, caller: Caller, settings: Settings
) -> Ok[SpecWritten]:
    timeout = settings.sync_timeout_seconds
    return ok(spec.submit_answers(caller.tenant, projectId, body.answers, timeout))


@spec_router.post(
    "/projects/{projectId}/approve",
    summary="Approve the current spec version",
    operation_id="approveSpec",
    response_model=Ok[SpecApproved],
)
def approve(projectId: str, caller: Caller, settings: Settings) -> Ok[SpecApproved]:
    return ok(spec.approve(caller.tenant, projectId, settings.sync_timeout_seconds))


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
    feedback = None if body is None else body.feedback
    timeout = settings.sync_timeout_seconds
    return ok(spec.regenerate(caller.tenant, projectId, feedback, timeout))
