"""Response bodies (pydantic): the contract's JSON shapes, field for field, so the
OpenAPI document describes every 2xx body. Each shape is declared here and only
here; views.py (and the verbs) fill them in.

Answers are serialized with response_model_exclude_unset, so a key an answer
leaves unset (an export's downloadUrl before it completes, a file entry's size
for a directory) stays out, as the contract shows it. Fields written by the
operator into a CR's status are nullable where the status may not have them yet.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

from pydantic import BaseModel, Field

from prazium_kit.models import ProjectPhase, QuestionType, RunPhase, TaskPhase
from prazium_kit.types import JsonObject

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Timestamp = str  # RFC 3339 in UTC, e.g. 2024-01-15T10:30:00Z


class Schema(BaseModel):
    pass


class Ok(Schema, Generic[T]):
    """{"success": true, "data": ...}"""

    success: Literal[True]
    data: T


class Pagination(Schema):
    page: int
    pageSize: int
    total: int
    totalPages: int


@dataclass(frozen=True)
class Page:
    """Which page of a list to answer (?page=, ?pageSize=)."""

    page: int
    page_size: int

    def apply(self, items: list[T]) -> tuple[list[T], Pagination]:
        total = len(items)
        start = (self.page - 1) * self.page_size
        return items[start : start + self.page_size], Pagination(
            page=self.page,
            pageSize=self.page_size,
            total=total,
            totalPages=math.ceil(total / self.page_size),
        )


class OkPage(Schema, Generic[T]):
    """{"success": true, "data": [...], "pagination": {...}}"""

    success: Literal[True]
    data: list[T]
    pagination: Pagination


def ok(data: M) -> Ok[M]:
    """The envelope of an answer, as the route's model (Ok[<the answer's model>]), so
    the route's validation takes it as it is."""
    return cast("type[Ok[M]]", _envelope(type(data)))(success=True, data=data)


@functools.cache
def _envelope(model: type[BaseModel]) -> type[Ok[Any]]:
    """Ok[model], looked up once (pydantic's own lookup of a parametrized model costs
    several microseconds, a noticeable share of a cached read)."""
    return Ok[model]  # type: ignore[valid-type]


@functools.cache
def _list_envelope(model: type[BaseModel]) -> type[Ok[Any]]:
    return Ok[list[model]]  # type: ignore[valid-type]


@functools.cache
def _page_envelope(model: type[BaseModel]) -> type[OkPage[Any]]:
    return OkPage[model]  # type: ignore[valid-type]


def ok_list(model: type[M], items: list[M]) -> Ok[list[M]]:
    return cast("type[Ok[list[M]]]", _list_envelope(model))(success=True, data=items)


def ok_page(model: type[M], items: list[M], pagination: Pagination) -> OkPage[M]:
    envelope = cast("type[OkPage[M]]", _page_envelope(model))
    return envelope(success=True, data=items, pagination=pagination)


# --- Projects -------------------------------------------------------------------------


class LatestRun(Schema):
    id: str
    runNumber: int | None
    status: RunPhase


class ProjectSummary(Schema):
    id: str
    name: str | None
    description: str | None
    status: ProjectPhase
    latestRun: LatestRun | None
    createdAt: Timestamp | None
    updatedAt: Timestamp | None
    cloneUrl: str = Field(
        description="`git clone` URL of the project's repository (smart HTTP, read-only;"
        " the API key as the password)"
    )


class Question(Schema):
    id: str
    question: str
    type: QuestionType
    options: list[str] | None = None


class AnswerRecord(Schema):
    questionId: str
    answer: Any


class Spec(Schema):
    version: int | None
    documents: dict[str, str] | None = Field(
        description="SPEC.md, ACCEPTANCE.md, ROUTES.md, DATA.md by file name"
    )
    approvedAt: Timestamp | None = None


class ProjectDetail(ProjectSummary):
    spec: Spec | None
    questions: list[Question] | None
    answers: list[AnswerRecord] | None
    repoPath: str
    message: str | None


class ProjectCreated(Schema):
    id: str
    name: str | None
    description: str | None
    status: ProjectPhase
    repoPath: str
    createdAt: Timestamp | None
    updatedAt: Timestamp | None
    cloneUrl: str = Field(description="`git clone` URL of the project's repository")


class ProjectArchived(Schema):
    id: str
    status: Literal["archived"]


class ProjectUnarchived(Schema):
    id: str
    status: ProjectPhase = Field(description="the phase the project is back in")


class Questions(Schema):
    questions: list[Question]


class SpecDocuments(Schema):
    version: int | None
    documents: dict[str, str] | None


class SpecApproval(Schema):
    version: int | None
    approvedAt: Timestamp | None


class SpecWritten(Schema):
    status: ProjectPhase
    spec: SpecDocuments


class SpecApproved(Schema):
    status: ProjectPhase
    spec: SpecApproval


class SpecRegenerated(Schema):
    status: ProjectPhase
    spec: Spec | None


# --- Runs and tasks -----------------------------------------------------------------


class RunStarted(Schema):
    id: str
    projectId: str
    runNumber: int | None
    status: RunPhase
    trigger: str
    createdAt: Timestamp | None


class TasksSummary(Schema):
    total: int
    pending: int
    queued: int
    running: int
    succeeded: int
    failed: int
    cancelled: int


USAGE_DOC = (
    "beyond the contract: the coding agents' model requests, summed; inputTokens counts"
    " every input token, cachedInputTokens (read from the provider's prompt cache) and"
    " cacheWriteInputTokens (written to it) among them; cost at the operator's price"
    " table (PRAZIUM_PRICES, per million tokens by model), null when a model in the sum"
    " has no price there (unknown, not 0). Absent while no model request was made"
)


class Usage(Schema):
    requests: int
    inputTokens: int
    outputTokens: int
    cachedInputTokens: int
    cacheWriteInputTokens: int
    cost: float | None = Field(description="null: unknown (a model without a price)")


class AttemptUsage(Usage):
    attempt: int
    provider: str | None
    model: str | None
    reason: str | None = Field(
        description="why the coding-agent loop stopped (Finished, BudgetExceeded, StepLimit,"
        " ...); null while the attempt runs"
    )


class TaskUsage(Usage):
    attempts: list[AttemptUsage] = Field(description="each worker attempt's, live while it runs")


class RunSummary(Schema):
    id: str
    projectId: str
    runNumber: int | None
    status: RunPhase
    trigger: str
    tasksSummary: TasksSummary
    startedAt: Timestamp | None
    completedAt: Timestamp | None
    createdAt: Timestamp | None
    usage: Usage | None = Field(
        default=None, description=f"{USAGE_DOC} (the run's tasks, running attempts included)"
    )


class Plan(Schema):
    """The decomposition (tasksJson): task definitions and the merge order."""

    tasks: list[JsonObject]
    mergeOrder: list[str]
    verifyCommand: list[str] | None


class TaskBrief(Schema):
    id: str | None
    slug: str | None
    status: TaskPhase
    sequence: int | None
    role: Literal["build", "repair"] | None = Field(
        default=None,
        description="beyond the contract: `repair` for the task of a repair round (after a"
        " failed verification); absent for the plan's tasks",
    )
    reusedFrom: str | None = Field(
        default=None,
        description="beyond the contract: `run_<id>/task_NNN` whose commit a retry took over"
        " instead of running this task again; absent when the task ran",
    )
    usage: TaskUsage | None = Field(
        default=None, description=f"{USAGE_DOC} (the task's attempts, and each attempt's)"
    )


class RunDetail(RunSummary):
    specSnapshot: JsonObject | None
    tasksJson: Plan | None
    tasks: list[TaskBrief]
    verificationResult: JsonObject | None
    mergedCommit: str | None
    message: str | None


class RunCancelled(Schema):
    id: str
    status: RunPhase


class TaskDefinition(Schema):
    id: str | None
    slug: str | None
    description: str | None
    instructions: str | None
    dependencies: list[str]
    pathScope: list[str]
    expectedOutputs: list[str]
    role: Literal["build", "repair"] | None = Field(
        default=None, description="beyond the contract: `repair` for a repair round's task"
    )


class TaskResult(Schema):
    filesCreated: list[str]
    filesModified: list[str]
    commitSha: str | None


class TaskDetail(TaskBrief):
    definition: TaskDefinition
    branchName: str | None
    worktreePath: str | None
    attempts: int
    message: str | None
    result: TaskResult | None
    startedAt: Timestamp | None
    completedAt: Timestamp | None


# --- Events -----------------------------------------------------------------------------


class Event(Schema):
    id: str = Field(description="evt_<n>: resume after it with afterId or Last-Event-ID")
    runId: str
    taskId: str | None
    eventType: str
    payload: JsonObject
    createdAt: Timestamp


# --- Exports and deployments ------------------------------------------------------------

ExportFormat = Literal["zip", "tar.gz"]
ExportState = Literal["processing", "completed", "failed"]


class ExportCreated(Schema):
    id: str
    status: Literal["processing"]
    format: ExportFormat


class ExportStatus(Schema):
    id: str
    status: ExportState
    format: ExportFormat
    sizeBytes: int | None = Field(default=None, description="once completed")
    downloadUrl: str | None = Field(
        default=None, description="once completed; relative to the API's base URL"
    )
    expiresAt: Timestamp | None = Field(default=None, description="once completed")
    error: str | None = Field(default=None, description="once failed")


class ExportListItem(ExportStatus):
    runId: str = Field(description="the run whose merged code the archive holds")
    createdAt: Timestamp


DeploymentState = Literal["deploying", "live", "failed", "stopped"]


class DeploymentCreated(Schema):
    deploymentId: str
    status: DeploymentState
    provider: str


class Deployment(Schema):
    id: str
    status: DeploymentState
    provider: str
    url: str | None = Field(description="set while the preview is live")
    runId: str = Field(description="the run whose merged commit the preview runs")
    createdAt: Timestamp
    expiresAt: Timestamp = Field(
        description="when the preview stops by itself (PRAZIUM_DEPLOY_TTL_SECONDS after createdAt)"
    )
    stoppedAt: Timestamp | None = Field(
        default=None, description="when its objects and data were removed, once stopped"
    )
    message: str | None = Field(
        default=None, description="why it failed or stopped (expired, stopped by a request)"
    )


class DeploymentStopped(Schema):
    id: str
    status: DeploymentState


# --- Files ------------------------------------------------------------------------------


class FileEntry(Schema):
    name: str
    type: Literal["file", "directory"]
    size: int | None = Field(default=None, description="files only")


class Directory(Schema):
    ref: str
    commit: str
    path: str
    entries: list[FileEntry]


class FileContent(Schema):
    path: str
    ref: str
    commit: str
    content: str
    encoding: Literal["utf-8", "base64"]
    size: int


# --- System and sessions ----------------------------------------------------------------


class Health(Schema):
    """Not enveloped (the contract's health shape); 503 when a component is unhealthy."""

    status: Literal["healthy", "unhealthy"]
    version: str
    components: dict[str, Literal["healthy", "unhealthy"]]
    details: dict[str, str] | None = Field(default=None, description="why, per unhealthy component")


class ProjectCounts(Schema):
    total: int
    active: int


class RunCounts(Schema):
    total: int
    succeeded: int
    failed: int
    cancelled: int
    inProgress: int


class QueueCounts(Schema):
    pending: int
    processing: int


class WorkerCounts(Schema):
    total: int
    active: int
    operators: int


class EventCounts(Schema):
    total: int


class Stats(Schema):
    projects: ProjectCounts
    runs: RunCounts
    queue: QueueCounts
    workers: WorkerCounts
    events: EventCounts


class Session(Schema):
    keyId: str
    tenant: str
    tier: str
    expiresAt: Timestamp
    csrfToken: str = Field(
        description="Send as the X-CSRF-Token header on every write made with the cookie"
    )


class LoggedOut(Schema):
    loggedOut: bool


class Me(Schema):
    keyId: str
    tenant: str
    tier: str
    admin: bool
    csrfToken: str | None = Field(
        default=None,
        description="With the session cookie: the X-CSRF-Token its writes need; else null",
    )


# --- Admin: API keys (an extension of the contract) ------------------------------------


class ApiKey(Schema):
    id: str
    tenant: str
    tier: str
    admin: bool
    createdAt: Timestamp
    revokedAt: Timestamp | None
    prefix: str | None = Field(
        description="The key's first characters (pzm_ + 8), to tell keys apart;"
        " null for keys made before prefixes were kept"
    )
    lastUsedAt: Timestamp | None = Field(
        default=None,
        description="The start of the minute of the key's latest request (its web"
        " sessions' included); null if it was never used",
    )


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The key itself: shown once, never stored")


class OffsetPagination(Schema):
    total: int
    limit: int
    offset: int


class ApiKeyList(Schema):
    keys: list[ApiKey]
    pagination: OffsetPagination
