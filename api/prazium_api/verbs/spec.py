"""A project's spec, written with the operator: clarifying questions, answers,
approval, regeneration. Synchronous over an asynchronous operator: each verb is one
sequence (change()) - look the project up, refuse an archived one, check the verb's
rule and name the spec fields it sets, patch them, wait (bounded) until the operator
has acted on that generation, and answer the project as the operator left it."""

from __future__ import annotations

from collections.abc import Callable

from prazium_api.cluster import crs, lookup, sync
from prazium_api.contract import views
from prazium_api.contract.errors import ApiError, conflict, invalid
from prazium_api.contract.requests import Answer
from prazium_api.contract.responses import Questions, SpecApproved, SpecRegenerated, SpecWritten
from prazium_kit import models
from prazium_kit.kinds import PROJECT, Project
from prazium_kit.models import PROJECT_APPROVED_PHASES, PROJECT_SPEC_PHASES

# The spec fields a verb sets, by their Python names (or a refusal, raised).
Changes = Callable[[Project], dict[str, object]]
# Whether the operator is done: (the project as looked up, as it is now).
Done = Callable[[Project, Project], bool]


def change(
    tenant: str, project_id: str, timeout: float, doing: str, changes: Changes, done: Done
) -> Project:
    """The sequence of every spec verb. No fields to set: wait on the generation the
    project has (clarify). The operator's refusal of the generation is 409, no
    answer in time 500 OPERATOR_TIMEOUT (cluster/sync.py)."""
    what = f"project {project_id}"
    before = lookup.project(tenant, project_id)
    if before.spec.archived:
        raise conflict(f"project {project_id} is archived")
    fields = changes(before)
    written = crs.patch_spec(tenant, PROJECT, before.name, what, **fields) if fields else before
    return sync.wait_for_operator(
        tenant,
        written.name,
        written.generation,
        lambda now: done(before, now),
        what,
        doing,
        timeout,
    )


def clarify(tenant: str, project_id: str, timeout: float) -> Questions:
    """The clarifying questions (the operator writes them for the current spec)."""
    project = change(
        tenant,
        project_id,
        timeout,
        "write clarifying questions",
        lambda _: {},
        lambda _, now: now.status.questions is not None,
    )
    return views.questions(project)


def submit_answers(
    tenant: str, project_id: str, answers: list[Answer], timeout: float
) -> SpecWritten:
    """Answer the questions; the operator writes the spec documents from them."""

    def answered(project: Project) -> dict[str, object]:
        _check_answers(project, project_id, answers)
        return {"answers": [models.Answer.of(a.questionId, a.answer) for a in answers]}

    project = change(tenant, project_id, timeout, "write the spec", answered, _written)
    return views.spec_written(project)


def approve(tenant: str, project_id: str, timeout: float) -> SpecApproved:
    """Approve the current spec version: runs may start from it."""

    def approval(project: Project) -> dict[str, object]:
        version = _spec_version(
            project,
            PROJECT_SPEC_PHASES,
            lambda phase: f"project {project_id} has no spec to approve (status {phase})",
        )
        return {"approval": models.Approval(specVersion=version)}

    project = change(tenant, project_id, timeout, "approve the spec", approval, _approved)
    return views.spec_approved(project)


def regenerate(
    tenant: str, project_id: str, feedback: str | None, timeout: float
) -> SpecRegenerated:
    """Write the spec again (a new version to review), with the caller's feedback."""

    def request(project: Project) -> dict[str, object]:
        _spec_version(
            project,
            PROJECT_SPEC_PHASES - {"building"},
            lambda phase: f"project {project_id} cannot regenerate its spec in status {phase}",
        )
        previous = project.spec.regenerate
        revision = (0 if previous is None else previous.revision) + 1
        return {"regenerate": models.Regenerate(revision=revision, feedback=feedback or None)}

    project = change(tenant, project_id, timeout, "regenerate the spec", request, _regenerated)
    return views.spec_regenerated(project)


# --- the rules ------------------------------------------------------------------------


def _check_answers(project: Project, project_id: str, answers: list[Answer]) -> None:
    """Answers name questions the project was asked, each once."""
    questions = project.status.questions
    if questions is None:
        raise conflict(
            f"project {project_id} has no clarifying questions yet:"
            " call POST /projects/{projectId}/clarify first"
        )
    known = {q.id for q in questions}
    unknown = [a.questionId for a in answers if a.questionId not in known]
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
    for answer in answers:
        if answer.questionId in seen:
            raise invalid(f"question {answer.questionId} answered twice", "answers.questionId")
        seen.add(answer.questionId)


def _spec_version(project: Project, phases: frozenset[str], refusal: Callable[[str], str]) -> int:
    """The version of the spec documents a verb acts on; 409 CONFLICT (refusal(phase)
    says why) unless the project has them and is in one of phases."""
    state = project.status.spec
    phase = views.project_phase(project)
    if state is None or not state.version or phase not in phases:
        raise conflict(refusal(phase))
    return state.version


def _version(project: Project) -> int:
    written = views.current_spec(project)
    return 0 if written is None else int(written.version or 0)


def _written(_: Project, now: Project) -> bool:
    return views.project_phase(now) in PROJECT_SPEC_PHASES and views.current_spec(now) is not None


def _approved(_: Project, now: Project) -> bool:
    written = views.current_spec(now)
    return (
        written is not None
        and bool(written.approvedAt)
        and views.project_phase(now) in PROJECT_APPROVED_PHASES
    )


def _regenerated(before: Project, now: Project) -> bool:
    return _version(now) > _version(before) and views.project_phase(now) == "spec_review"
