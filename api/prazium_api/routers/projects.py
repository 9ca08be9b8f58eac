"""Projects and their spec: create, list, get, update, archive; clarify, answers,
approve, regenerate (synchronous over the operator, see sync.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Body, Query, Request

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
)
from prazium_api.git import cloneurl
from prazium_api.routers.deps import Caller, Paging, Settings, ok
from prazium_api.routers.routing import ApiRouter
from prazium_kit.kube import LABEL_MANAGED_BY, PROJECTS
from prazium_kit.types import Obj

router = ApiRouter(tags=["Projects"])
spec_router = ApiRouter(tags=["Spec Generation"])
ProjectPhase = Literal[
    "draft", "clarifying", "spec_review", "approved", "building", "built", "failed", "archived"
]
SPEC_PHASES = frozenset({"spec_review", "approved", "building", "built", "failed"})


@router.post(
    "/projects",
    status_code=201,
    summary="Create a project",
    operation_id="createProject",
    response_model=Ok[ProjectCreated],
)
def create_project(
    body: CreateProject, caller: Caller, settings: Settings, request: Request
) -> Obj:
    name = naming.new_project_name(body.name)
    obj = crs.create(
        caller.tenant,
        PROJECTS,
        {
            "metadata": {"name": name, "labels": {LABEL_MANAGED_BY: "prazium-api"}},
            "spec": {"displayName": body.name, "description": body.description},
        },
        "project",
    )
    detail = views.project_summary(obj)
    return ok(
        {
            "id": detail["id"],
            "name": detail["name"],
            "description": detail["description"],
            "status": "draft",
            "repoPath": views.repo_path(settings.data_dir, obj),
            "createdAt": detail["createdAt"],
            "updatedAt": detail["updatedAt"],
            "cloneUrl": _clone_url(request, settings, detail["id"]),
        }
    )


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
    status: Annotated[ProjectPhase | None, Query(description="Filter by status")] = None,
    search: Annotated[
        str | None, Query(max_length=200, description="Search name/description")
    ] = None,
) -> Obj:
    items = crs.project_lists.get(caller.tenant, settings.list_cache_seconds)
    if status is not None:
        items = [obj for obj in items if views.project_phase(obj) == status]
    if search:
        needle = search.casefold()
        items = [
            obj
            for obj in items
            if needle in str(obj.get("spec", {}).get("displayName", "")).casefold()
            or needle in str(obj.get("spec", {}).get("description", "")).casefold()
        ]
    # Newest first already (crs.project_lists), filters keep the order.
    page, pagination = paging.apply(items)
    base = cloneurl.base_url(request, settings)
    return ok(
        [_with_clone_url(views.project_summary(obj), base) for obj in page],
        pagination=pagination,
    )


@router.get(
    "/projects/{projectId}",
    summary="Get a project with its spec documents",
    operation_id="getProject",
    response_model=Ok[ProjectDetail],
)
async def get_project(projectId: str, caller: Caller, settings: Settings, request: Request) -> Obj:
    # Async: a read from the cache needs no worker thread (the hop costs more than it).
    obj = await lookup.project_async(caller.tenant, projectId)
    return ok(
        _with_clone_url(
            views.project_detail(obj, settings.data_dir), cloneurl.base_url(request, settings)
        )
    )


@router.patch(
    "/projects/{projectId}",
    summary="Update name and/or description",
    operation_id="updateProject",
    response_model=Ok[ProjectDetail],
)
def update_project(
    projectId: str, body: UpdateProject, caller: Caller, settings: Settings, request: Request
) -> Obj:
    obj = lookup.project(caller.tenant, projectId)
    changes: Obj = {}
    if body.name is not None:
        changes["displayName"] = body.name
    if body.description is not None:
        changes["description"] = body.description
    if changes:
        obj = crs.patch(
            caller.tenant,
            PROJECTS,
            obj["metadata"]["name"],
            {"spec": changes},
            f"project {projectId}",
        )
    return ok(
        _with_clone_url(
            views.project_detail(obj, settings.data_dir), cloneurl.base_url(request, settings)
        )
    )


@router.delete(
    "/projects/{projectId}",
    summary="Archive a project (a soft delete)",
    operation_id="deleteProject",
    response_model=Ok[ProjectArchived],
)
def archive_project(projectId: str, caller: Caller) -> Obj:
    obj = lookup.project(caller.tenant, projectId)
    crs.patch(
        caller.tenant,
        PROJECTS,
        obj["metadata"]["name"],
        {"spec": {"archived": True}},
        f"project {projectId}",
    )
    return ok({"id": projectId, "status": "archived"})


def _clone_url(request: Request, settings: Settings, project_id: str) -> str:
    return cloneurl.clone_url(cloneurl.base_url(request, settings), project_id)


def _with_clone_url(project: Obj, base: str) -> Obj:
    """A project's JSON with the URL `git clone` takes (routers/git.py)."""
    return {**project, "cloneUrl": cloneurl.clone_url(base, project["id"])}


def _refuse_archived(obj: Obj, project_id: str) -> None:
    if obj.get("spec", {}).get("archived"):
        raise conflict(f"project {project_id} is archived")


@spec_router.post(
    "/projects/{projectId}/clarify",
    summary="Get clarifying questions",
    operation_id="getClarifyingQuestions",
    response_model=Ok[Questions],
)
def clarify(projectId: str, caller: Caller, settings: Settings) -> Obj:
    obj = lookup.project(caller.tenant, projectId)
    _refuse_archived(obj, projectId)
    obj = wait_for_operator(
        caller.tenant,
        PROJECTS,
        obj["metadata"]["name"],
        int(obj["metadata"]["generation"]),
        lambda o: o.get("status", {}).get("questions") is not None,
        f"project {projectId}",
        "write clarifying questions",
        settings.sync_timeout_seconds,
    )
    return ok({"questions": obj["status"]["questions"]})


@spec_router.post(
    "/projects/{projectId}/answers",
    summary="Submit answers; returns the spec",
    operation_id="submitAnswers",
    response_model=Ok[SpecWritten],
)
def submit_answers(projectId: str, body: SubmitAnswers, caller: Caller, settings: Settings) -> Obj:
    obj = lookup.project(caller.tenant, projectId)
    _refuse_archived(obj, projectId)
    questions = obj.get("status", {}).get("questions")
    if questions is None:
        raise conflict(
            f"project {projectId} has no clarifying questions yet:"
            " call POST /projects/{projectId}/clarify first"
        )
    known = {q.get("id") for q in questions}
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
    name = obj["metadata"]["name"]
    patched = crs.patch(
        caller.tenant,
        PROJECTS,
        name,
        {"spec": {"answers": [a.model_dump() for a in body.answers]}},
        f"project {projectId}",
    )
    obj = wait_for_operator(
        caller.tenant,
        PROJECTS,
        name,
        int(patched["metadata"]["generation"]),
        lambda o: views.project_phase(o) in SPEC_PHASES and views.spec_view(o) is not None,
        f"project {projectId}",
        "write the spec",
        settings.sync_timeout_seconds,
    )
    spec = views.spec_view(obj) or {}
    return ok(
        {
            "status": views.project_phase(obj),
            "spec": {"version": spec.get("version"), "documents": spec.get("documents")},
        }
    )


@spec_router.post(
    "/projects/{projectId}/approve",
    summary="Approve the current spec version",
    operation_id="approveSpec",
    response_model=Ok[SpecApproved],
)
def approve(projectId: str, caller: Caller, settings: Settings) -> Obj:
    obj = lookup.project(caller.tenant, projectId)
    _refuse_archived(obj, projectId)
    spec = views.spec_view(obj)
    phase = views.project_phase(obj)
    if spec is None or phase not in SPEC_PHASES:
        raise conflict(f"project {projectId} has no spec to approve (status {phase})")
    version = spec["version"]
    name = obj["metadata"]["name"]
    patched = crs.patch(
        caller.tenant,
        PROJECTS,
        name,
        {"spec": {"approval": {"specVersion": version}}},
        f"project {projectId}",
    )
    obj = wait_for_operator(
        caller.tenant,
        PROJECTS,
        name,
        int(patched["metadata"]["generation"]),
        lambda o: (
            bool((views.spec_view(o) or {}).get("approvedAt"))
            and views.project_phase(o) in SPEC_PHASES - {"spec_review"}
        ),
        f"project {projectId}",
        "approve the spec",
        settings.sync_timeout_seconds,
    )
    approved = views.spec_view(obj) or {}
    return ok(
        {
            "status": views.project_phase(obj),
            "spec": {"version": approved.get("version"), "approvedAt": approved.get("approvedAt")},
        }
    )


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
) -> Obj:
    obj = lookup.project(caller.tenant, projectId)
    _refuse_archived(obj, projectId)
    spec = views.spec_view(obj)
    phase = views.project_phase(obj)
    if spec is None or phase not in SPEC_PHASES - {"building"}:
        raise conflict(f"project {projectId} cannot regenerate its spec in status {phase}")
    previous = obj.get("spec", {}).get("regenerate") or {}
    request: Obj = {"revision": int(previous.get("revision") or 0) + 1}
    if body is not None and body.feedback:
        request["feedback"] = body.feedback
    name = obj["metadata"]["name"]
    patched = crs.patch(
        caller.tenant, PROJECTS, name, {"spec": {"regenerate": request}}, f"project {projectId}"
    )
    old_version = int(spec["version"])
    obj = wait_for_operator(
        caller.tenant,
        PROJECTS,
        name,
        int(patched["metadata"]["generation"]),
        lambda o: (
            int((views.spec_view(o) or {}).get("version") or 0) > old_version
            and views.project_phase(o) == "spec_review"
        ),
        f"project {projectId}",
        "regenerate the spec",
        settings.sync_timeout_seconds,
    )
    return ok({"status": views.project_phase(obj), "spec": views.spec_view(obj)})
