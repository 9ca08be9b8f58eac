"""Typed custom resources (prazium_kit.kinds) -> the contract's answers (responses.py).

Each answer's shape is declared once, as its model in responses.py; a view only
maps a resource's spec, status and metadata onto it (ids per prazium_kit.ids).
Answers are serialized with exclude_unset (routers/routing.py), so a view sets
every key the answer shows, None included; parts of a status the contract passes
on as stored (a run's spec snapshot, its verification result, its planned tasks)
keep exactly the keys the status has.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar, cast

from pydantic import BaseModel

from prazium_api.contract.responses import (
    AnswerRecord,
    LatestRun,
    Plan,
    ProjectCreated,
    ProjectDetail,
    ProjectSummary,
    Question,
    Questions,
    RunDetail,
    RunStarted,
    RunSummary,
    Spec,
    SpecApproval,
    SpecApproved,
    SpecDocuments,
    SpecRegenerated,
    SpecWritten,
    TaskBrief,
    TaskDefinition,
    TaskDetail,
    TaskResult,
    TasksSummary,
    TaskUsage,
    Usage,
)
from prazium_kit import ids, models, paths
from prazium_kit.kinds import Project, Run, Task
from prazium_kit.models import ProjectPhase, RunPhase, TaskPhase
from prazium_kit.types import JsonObject

BriefT = TypeVar("BriefT", bound=TaskBrief)
RunT = TypeVar("RunT", bound=RunSummary)

CLONE_PATH = "/v1/projects/{project_id}/git"


def as_stored(part: BaseModel) -> JsonObject:
    """A part of a status as the apiserver holds it: its keys, by their names there."""
    return part.model_dump(by_alias=True, exclude_unset=True)


def clone_url(base: str, project_id: str) -> str:
    """The URL `git clone` takes for a project (routers/git.py serves it) under the
    API's base URL (routers/deps.py: PRAZIUM_EXTERNAL_URL or the request's)."""
    return base + CLONE_PATH.format(project_id=project_id)


def volume_relative(value: str | None) -> str | None:
    """A path from a status as answers show it. Statuses hold volume-relative paths;
    one written before that (absolute) is cut to its part from the volume's top
    directory on (workspaces/..., repos/...), never shown whole."""
    if not value or not value.startswith("/"):
        return value
    parts = value.split("/")
    for top in ("workspaces", "repos", "results"):
        if top in parts:
            return "/".join(parts[parts.index(top) :])
    return None


# --- Projects -------------------------------------------------------------------------


def project_phase(project: Project) -> ProjectPhase:
    """The phase the contract shows: archived by the spec, else the operator's."""
    if project.spec.archived:
        return "archived"
    return project.status.phase or "draft"


def repo_path(data_dir: Path, project: Project) -> str:
    """The project's repository relative to the repo volume: answers carry no host path."""
    bare = paths.repo_path(data_dir, project.namespace, project.name)
    return paths.volume_relative(data_dir, bare)


def latest_run(project: Project) -> LatestRun | None:
    latest = project.status.latest_run
    if latest is None or not latest.name:
        return None
    # The operator copies the Run's phase there (the CRD keeps it a plain string).
    phase = cast("RunPhase", latest.phase or "pending")
    return LatestRun(id=ids.run_id(latest.name), runNumber=latest.run_number, status=phase)


def project_summary(project: Project, clone_base: str) -> ProjectSummary:
    project_id = ids.project_id(project.name)
    return ProjectSummary(
        id=project_id,
        name=project.spec.display_name,
        description=project.spec.description,
        status=project_phase(project),
        latestRun=latest_run(project),
        createdAt=project.created_at,
        updatedAt=project.updated_at,
        cloneUrl=clone_url(clone_base, project_id),
    )


def project_detail(project: Project, data_dir: Path, clone_base: str) -> ProjectDetail:
    """The summary's fields and the spec, questions, answers, repository and message.
    (Built in one go: building the summary first and copying it costs a second
    validation of every field, on the path of a cached read.)"""
    project_id = ids.project_id(project.name)
    status = project.status
    return ProjectDetail(
        id=project_id,
        name=project.spec.display_name,
        description=project.spec.description,
        status=project_phase(project),
        latestRun=latest_run(project),
        createdAt=project.created_at,
        updatedAt=project.updated_at,
        cloneUrl=clone_url(clone_base, project_id),
        spec=current_spec(project),
        questions=_questions(project),
        answers=None
        if project.spec.answers is None
        else [AnswerRecord(questionId=a.question_id, answer=a.value) for a in project.spec.answers],
        repoPath=repo_path(data_dir, project),
        message=status.message,
    )


def project_created(project: Project, data_dir: Path, clone_base: str) -> ProjectCreated:
    summary = project_summary(project, clone_base)
    return ProjectCreated(
        id=summary.id,
        name=summary.name,
        description=summary.description,
        status="draft",
        repoPath=repo_path(data_dir, project),
        createdAt=summary.createdAt,
        updatedAt=summary.updatedAt,
        cloneUrl=summary.cloneUrl,
    )


def current_spec(project: Project) -> Spec | None:
    """The spec documents of the current version; None before the first is written."""
    state = project.status.spec
    if state is None or not state.version:
        return None
    return Spec(
        version=state.version, documents=state.documents or {}, approvedAt=state.approved_at
    )


def _questions(project: Project) -> list[Question] | None:
    asked = project.status.questions
    return None if asked is None else [Question.model_validate(as_stored(q)) for q in asked]


def questions(project: Project) -> Questions:
    return Questions(questions=_questions(project) or [])


def spec_written(project: Project) -> SpecWritten:
    written = current_spec(project)
    return SpecWritten(
        status=project_phase(project),
        spec=SpecDocuments(
            version=None if written is None else written.version,
            documents=None if written is None else written.documents,
        ),
    )


def spec_approved(project: Project) -> SpecApproved:
    approved = current_spec(project)
    return SpecApproved(
        status=project_phase(project),
        spec=SpecApproval(
            version=None if approved is None else approved.version,
            approvedAt=None if approved is None else approved.approvedAt,
        ),
    )


def spec_regenerated(project: Project) -> SpecRegenerated:
    return SpecRegenerated(status=project_phase(project), spec=current_spec(project))


# --- Runs -------------------------------------------------------------------------------


def run_phase(run: Run) -> RunPhase:
    return run.status.phase or "pending"


def tasks_summary(run: Run) -> TasksSummary:
    counted = run.status.tasks_summary or models.TasksSummary()
    return TasksSummary.model_validate(counted.model_dump())


def _usage(usage: models.Usage | None) -> Usage | None:
    return None if usage is None else Usage.model_validate(usage.model_dump(by_alias=True))


def _with_usage(answer: RunT, run: Run) -> RunT:
    """The answer with usage set (and so serialized) once the run made a model request."""
    usage = _usage(run.status.usage)
    if usage is not None:
        answer.usage = usage
    return answer


def run_summary(run: Run) -> RunSummary:
    status = run.status
    return _with_usage(
        RunSummary(
            id=ids.run_id(run.name),
            projectId=ids.project_id(run.spec.project_ref.name),
            runNumber=status.run_number,
            status=run_phase(run),
            trigger=run.spec.trigger,
            tasksSummary=tasks_summary(run),
            startedAt=status.started_at,
            completedAt=status.completed_at,
            createdAt=run.created_at,
        ),
        run,
    )


def run_started(run: Run, project_id: str) -> RunStarted:
    """The answer to starting a run, once the operator numbered it."""
    phase = run_phase(run)
    return RunStarted(
        id=ids.run_id(run.name),
        projectId=project_id,
        runNumber=run.status.run_number,
        # The contract reports a run that is about to be planned as "decomposing".
        status="decomposing" if phase in ("pending", "decomposing") else phase,
        trigger=run.spec.trigger,
        createdAt=run.created_at,
    )


def run_detail(run: Run, tasks: list[Task], snapshot: models.SpecSnapshot | None) -> RunDetail:
    """The summary's fields (built in one go, as project_detail), the plan, the tasks in
    brief and the outcome. snapshot: status.specSnapshot, with its documents read
    from the repository."""
    status = run.status
    return _with_usage(
        RunDetail(
            id=ids.run_id(run.name),
            projectId=ids.project_id(run.spec.project_ref.name),
            runNumber=status.run_number,
            status=run_phase(run),
            trigger=run.spec.trigger,
            tasksSummary=tasks_summary(run),
            startedAt=status.started_at,
            completedAt=status.completed_at,
            createdAt=run.created_at,
            specSnapshot=None if snapshot is None else as_stored(snapshot),
            tasksJson=_plan(status.plan, tasks),
            tasks=[task_brief(task) for task in tasks],
            verificationResult=None
            if status.verification_result is None
            else as_stored(status.verification_result),
            mergedCommit=status.merged_commit,
            message=status.message,
        ),
        run,
    )


def _plan(plan: models.Plan | None, tasks: list[Task]) -> Plan | None:
    """The plan (None before there is one: an empty stored plan is none either), its
    tasks with their full definitions: status.plan keeps them brief once the Tasks
    exist (each Task's spec.definition is the reference)."""
    if plan is None or not plan.model_fields_set:
        return None
    definitions = {task.spec.definition.id: task.spec.definition for task in tasks}
    return Plan(
        tasks=[as_stored(definitions.get(task.id) or task) for task in plan.tasks],
        mergeOrder=plan.merge_order,
        verifyCommand=plan.verify_command if "verify_command" in plan.model_fields_set else None,
    )


# --- Tasks ------------------------------------------------------------------------------


def task_api_id(definition_id: str | None) -> str | None:
    """task_001 for task-001; a definition id without that form as it is."""
    if definition_id is None:
        return None
    try:
        return ids.task_id(definition_id)
    except ids.InvalidId:
        return definition_id


def task_phase(task: Task) -> TaskPhase:
    return task.status.phase or "pending"


def reused_from(value: str | None) -> str | None:
    """status.reusedFrom (<run>/<task-NNN>) in API ids: run_<run>/task_NNN."""
    run, _, task = (value or "").partition("/")
    return f"{ids.run_id(run)}/{task_api_id(task)}" if run and task else None


def task_brief(task: Task) -> TaskBrief:
    definition = task.spec.definition
    return _with_origin(
        TaskBrief(
            id=task_api_id(definition.id),
            slug=definition.slug,
            status=task_phase(task),
            sequence=task.spec.sequence,
        ),
        task,
    )


def _with_origin(answer: BriefT, task: Task) -> BriefT:
    """The answer with the fields beyond the contract set (and so serialized) only when
    they hold something: a repair round's task, and a retry's task taken over from the
    retried run."""
    if task.spec.definition.role:
        answer.role = task.spec.definition.role
    source = reused_from(task.status.reused_from)
    if source:
        answer.reusedFrom = source
    if task.status.usage is not None:
        answer.usage = TaskUsage.model_validate(task.status.usage.model_dump(by_alias=True))
    return answer


def task_detail(task: Task) -> TaskDetail:
    definition, status = task.spec.definition, task.status
    result = status.result
    detail = TaskDetail(
        id=task_api_id(definition.id),
        slug=definition.slug,
        status=task_phase(task),
        sequence=task.spec.sequence,
        definition=TaskDefinition(
            id=definition.id,
            slug=definition.slug,
            description=definition.description,
            instructions=definition.instructions if definition.instructions is not None else "",
            dependencies=definition.dependencies,
            pathScope=definition.path_scope,
            expectedOutputs=definition.expected_outputs,
            **({"role": definition.role} if definition.role else {}),
        ),
        branchName=status.branch_name,
        worktreePath=volume_relative(status.worktree_path),
        attempts=status.attempts if status.attempts is not None else 0,
        message=status.message,
        result=None
        if result is None
        else TaskResult(
            filesCreated=result.files_created,
            filesModified=result.files_modified,
            commitSha=result.commit_sha,
        ),
        startedAt=status.started_at,
        completedAt=status.completed_at,
    )
    return _with_origin(detail, task)
