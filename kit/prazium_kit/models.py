"""Python models of the custom resources' spec and phases.

crds/*.yaml is what the apiserver enforces; these models are what Python code
reads and writes. tests/unit/test_models_match_crds.py checks that the two
agree field by field (names, required fields, enums), so neither drifts.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_serializer

from prazium_kit import ids

# Defined with the agents' shapes: the worker's import of those stays clear of this module.
from prazium_kit.agentapi import QuestionType

AgentName = Literal["template", "openai", "anthropic", "command"]
ProjectPhase = Literal[
    "draft", "clarifying", "spec_review", "approved", "building", "built", "failed", "archived"
]
RunPhase = Literal[
    "pending",
    "decomposing",
    "executing",
    "merging",
    "verifying",
    "succeeded",
    "failed",
    "cancelled",
]
TaskPhase = Literal["pending", "queued", "running", "succeeded", "failed", "cancelled"]

PROJECT_PHASES: tuple[str, ...] = typing.get_args(ProjectPhase)
RUN_PHASES: tuple[str, ...] = typing.get_args(RunPhase)
TASK_PHASES: tuple[str, ...] = typing.get_args(TaskPhase)
RUN_FINAL_PHASES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
RUN_ACTIVE_PHASES: frozenset[str] = frozenset(RUN_PHASES) - RUN_FINAL_PHASES
TASK_FINAL_PHASES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
# Tasks waiting for a worker: planned, or with their dependencies done.
TASK_WAITING_PHASES: frozenset[str] = frozenset({"pending", "queued"})
# A Project has spec documents in these phases: to review, approve, build or write again.
PROJECT_SPEC_PHASES: frozenset[str] = frozenset(
    {"spec_review", "approved", "building", "built", "failed"}
)
# ... and an approved spec in these: Runs may start (a failed build may be started again).
PROJECT_APPROVED_PHASES: frozenset[str] = PROJECT_SPEC_PHASES - {"spec_review"}

_CAMEL = ConfigDict(populate_by_name=True, extra="forbid")


# What an answer holds, by question type: text (text, single_choice), a list of
# options (multi_choice) or yes/no (boolean).
AnswerValue = str | bool | list[str]


class Answer(BaseModel):
    """One answer, in the field of its type: the apiserver sees an untyped field's
    value in no CEL rule and can type a field only one way, so each type has its own.

    `answer` was untyped before: Projects stored then may still hold a boolean, a
    list or any JSON there (the apiserver keeps it while the answers stay unchanged),
    so it is read as JSON; `value` reads either form, and `of` writes the typed one.
    """

    model_config = _CAMEL
    question_id: str = Field(alias="questionId", pattern=r"^q[0-9]+$")
    answer: JsonValue = None
    choices: list[str] | None = None
    boolean: bool | None = None

    @classmethod
    def of(cls, question_id: str, value: AnswerValue) -> Answer:
        if isinstance(value, bool):
            return cls(questionId=question_id, boolean=value)
        if isinstance(value, list):
            return cls(questionId=question_id, choices=value)
        return cls(questionId=question_id, answer=value)

    @property
    def value(self) -> AnswerValue | JsonValue:
        """The answer, whichever field holds it."""
        if self.boolean is not None:
            return self.boolean
        if self.choices is not None:
            return self.choices
        return self.answer


class Regenerate(BaseModel):
    model_config = _CAMEL
    revision: int = Field(ge=0)
    feedback: str | None = Field(default=None, max_length=10000)


class Approval(BaseModel):
    model_config = _CAMEL
    spec_version: int = Field(alias="specVersion", ge=1)


class SpecDocuments(BaseModel):
    model_config = _CAMEL
    spec_md: str = Field(alias="SPEC.md", min_length=1, max_length=200000)
    acceptance_md: str = Field(alias="ACCEPTANCE.md", min_length=1, max_length=200000)
    routes_md: str = Field(alias="ROUTES.md", min_length=1, max_length=200000)
    data_md: str = Field(alias="DATA.md", min_length=1, max_length=200000)


_SECRET_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class ProjectAgent(BaseModel):
    model_config = _CAMEL
    planner: AgentName = "template"
    coder: AgentName = "template"
    model: str | None = Field(default=None, max_length=200)
    command: str | None = Field(default=None, max_length=2000)
    credentials_secret: str | None = Field(
        default=None, alias="credentialsSecret", max_length=253, pattern=_SECRET_NAME
    )

    def as_spec(self) -> dict[str, Any]:
        """As it reads in a spec (what the agent registry's options are taken from)."""
        return self.model_dump(by_alias=True, exclude_none=True)


# A remote to push a succeeded run's merged commit to: http(s) only, no user
# information in the URL (credentials come from a Secret, never from a spec).
PUBLISH_URL_PATTERN = r"^https?://[^/@\s]+(/\S*)?$"
PUBLISH_BRANCH_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9._/-]{0,199}$"


class Publish(BaseModel):
    """spec.publish of a Project (every run) or a Run (this run; overrides the Project's)."""

    model_config = _CAMEL
    url: str = Field(max_length=2000, pattern=PUBLISH_URL_PATTERN)
    branch: str = Field(default="main", max_length=200, pattern=PUBLISH_BRANCH_PATTERN)
    credentials_secret: str | None = Field(
        default=None, alias="credentialsSecret", max_length=253, pattern=_SECRET_NAME
    )


class Retention(BaseModel):
    """spec.retention: when a Project's finished Runs leave the cluster (None: the
    installation's default for that field)."""

    model_config = _CAMEL
    keep_last_runs: int | None = Field(default=None, alias="keepLastRuns", ge=1, le=10000)
    max_age_hours: int | None = Field(default=None, alias="maxAgeHours", ge=1, le=876000)


# A sane ceiling for repair rounds: each one runs the coder over the whole app again.
MAX_REPAIR_ROUNDS = 10
DEFAULT_REPAIR_ROUNDS = 1


class Repair(BaseModel):
    """spec.repair of a Project (every run) or a Run (this run; overrides the Project's):
    how many repair rounds may follow a failed verification (0: none)."""

    model_config = _CAMEL
    max_rounds: int | None = Field(default=None, alias="maxRounds", ge=0, le=MAX_REPAIR_ROUNDS)


class Budget(BaseModel):
    """spec.budget of a Project (each of its runs) or a Run (this run; each field it sets
    overrides the Project's): what one run's coding agents may spend on model requests.
    maxTokens counts input + output tokens (cached input among the input); maxCost is a
    number in the currency of the operator's price table (PRAZIUM_PRICES) and can only
    be judged for models that table prices. Reached: running attempts stop at their next
    step, no further task starts, and the run fails with reason BudgetExceeded."""

    model_config = _CAMEL
    max_tokens: int | None = Field(default=None, alias="maxTokens", ge=0)
    max_cost: float | None = Field(default=None, alias="maxCost", ge=0)


# spec.network.egress: host names (*.domain for subdomains), addresses and CIDRs. The
# egress proxy (prazium_operator.egress.rules) parses each entry again, strictly.
EGRESS_ENTRY_PATTERN = (
    r"^((\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*"
    r"|[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?"
    r"|[0-9a-fA-F:]*:[0-9a-fA-F:.]*(/[0-9]{1,3})?)$"
)


class Network(BaseModel):
    """spec.network of a Project: what its coders may reach through the egress proxy
    besides the configured LLM endpoints (nothing, by default)."""

    model_config = _CAMEL
    egress: list[
        typing.Annotated[str, Field(min_length=1, max_length=253, pattern=EGRESS_ENTRY_PATTERN)]
    ] = Field(default_factory=list, max_length=100)


class ProjectSpec(BaseModel):
    model_config = _CAMEL
    display_name: str = Field(alias="displayName", min_length=1, max_length=200)
    description: str = Field(min_length=10, max_length=20000)
    answers: list[Answer] | None = Field(default=None, max_length=100)
    regenerate: Regenerate | None = None
    approval: Approval | None = None
    spec_documents: SpecDocuments | None = Field(default=None, alias="specDocuments")
    agent: ProjectAgent | None = None
    archived: bool = False
    publish: Publish | None = None
    retention: Retention | None = None
    repair: Repair | None = None
    network: Network | None = None
    budget: Budget | None = None

    @property
    def chosen_agent(self) -> ProjectAgent:
        """spec.agent with its defaults (the template planner and coder) when absent."""
        return self.agent or ProjectAgent()


class ObjectRef(BaseModel):
    model_config = _CAMEL
    name: str = Field(min_length=1)


class RunAgent(BaseModel):
    model_config = _CAMEL
    coder: AgentName | None = None
    model: str | None = Field(default=None, max_length=200)
    command: str | None = Field(default=None, max_length=2000)
    credentials_secret: str | None = Field(
        default=None, alias="credentialsSecret", max_length=253, pattern=_SECRET_NAME
    )


class RunSpec(BaseModel):
    model_config = _CAMEL
    project_ref: ObjectRef = Field(alias="projectRef")
    trigger: Literal["manual", "retry", "gitops"] = "manual"
    retry_of: str | None = Field(default=None, alias="retryOf", max_length=253)
    cancel: bool = False
    parallelism: int = Field(default=3, ge=1, le=32)
    agent: RunAgent | None = None
    publish: Publish | None = None
    repair: Repair | None = None
    reuse: bool = True
    budget: Budget | None = None


# A task's role: build (a task of the plan; absent means build) or repair (a repair
# round's task, made by the operator after a failed verification).
TaskRole = Literal["build", "repair"]
REPAIR_ROLE: TaskRole = "repair"


class TaskDefinition(BaseModel):
    model_config = _CAMEL
    id: str = Field(pattern=ids.TASK_DEFINITION_ID_PATTERN)
    slug: str = Field(max_length=40, pattern=ids.DNS1123_LABEL_PATTERN)
    description: str = Field(min_length=1, max_length=2000)
    instructions: str | None = Field(default=None, max_length=50000)
    dependencies: list[str] = []
    path_scope: list[str] = Field(alias="pathScope", min_length=1)
    expected_outputs: list[str] = Field(default=[], alias="expectedOutputs")
    role: TaskRole | None = None
    test_command: list[str] | None = Field(default=None, alias="testCommand", max_length=100)


class TaskSpec(BaseModel):
    model_config = _CAMEL
    run_ref: ObjectRef = Field(alias="runRef")
    project_ref: ObjectRef = Field(alias="projectRef")
    sequence: int = Field(ge=1, le=999)
    definition: TaskDefinition


# ----------------------------------------------------------------------------- status
#
# What the operator stores under .status. Read from the apiserver, which prunes any
# field the CRD does not declare, so unknown keys are ignored rather than refused.
# Every field is optional: a status grows field by field as a resource progresses.


class _Status(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(_Status):
    """A kstatus condition (Ready / Reconciling / Stalled, a Run's Published): the
    fields of metav1.Condition, required as there (the CRDs check their forms)."""

    type: str
    status: ConditionStatus
    reason: str
    message: str
    last_transition_time: str = Field(alias="lastTransitionTime")
    observed_generation: int | None = Field(default=None, alias="observedGeneration")


class Question(_Status):
    id: str
    question: str
    type: QuestionType
    options: list[str] | None = None


class SpecState(_Status):
    """The Project's spec documents: generated or provided, and which version is approved."""

    version: int | None = Field(default=None, ge=0)
    documents: dict[str, str] | None = None
    approved_at: str | None = Field(default=None, alias="approvedAt")
    approved_version: int | None = Field(default=None, alias="approvedVersion")
    source: Literal["generated", "provided"] | None = None
    answers_digest: str | None = Field(default=None, alias="answersDigest")
    revision: int | None = None
    commit_sha: str | None = Field(default=None, alias="commitSha")


class Usage(_Status):
    """Model requests and their tokens, summed (a Task's attempts, a Run's Tasks, a
    Project's finished Runs). inputTokens counts every input token, the cached ones
    (cachedInputTokens) and those written to a prompt cache (cacheWriteInputTokens)
    among them. cost: at the operator's price table (PRAZIUM_PRICES); absent when a
    part of the sum used a model the table does not price (unknown, never 0)."""

    requests: int = Field(default=0, ge=0)
    input_tokens: int = Field(default=0, alias="inputTokens", ge=0)
    output_tokens: int = Field(default=0, alias="outputTokens", ge=0)
    cached_input_tokens: int = Field(default=0, alias="cachedInputTokens", ge=0)
    cache_write_input_tokens: int = Field(default=0, alias="cacheWriteInputTokens", ge=0)
    cost: float | None = Field(default=None, ge=0)

    @property
    def tokens(self) -> int:
        """What a budget's maxTokens counts: input + output."""
        return self.input_tokens + self.output_tokens


class AttemptUsage(Usage):
    """One worker attempt's model requests: live from its AGENT_USAGE events while it
    runs, from its result once it ended."""

    attempt: int = Field(ge=1)
    provider: str | None = None
    model: str | None = None
    # The coding-agent loop's stop reason (Finished, BudgetExceeded, ...), once ended.
    reason: str | None = None


class TaskUsage(Usage):
    """A Task's attempts, summed, and each of them."""

    attempts: list[AttemptUsage] = Field(default_factory=list)


class LatestRun(_Status):
    name: str | None = None
    run_number: int | None = Field(default=None, alias="runNumber")
    phase: str | None = None
    spec_version: int | None = Field(default=None, alias="specVersion")


class ProjectStatus(_Status):
    phase: ProjectPhase | None = None
    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    message: str | None = None
    questions: list[Question] | None = None
    spec: SpecState | None = None
    repo_path: str | None = Field(default=None, alias="repoPath")
    run_counter: int | None = Field(default=None, alias="runCounter", ge=0)
    latest_run: LatestRun | None = Field(default=None, alias="latestRun")
    active_run: str | None = Field(default=None, alias="activeRun")
    usage: Usage | None = None
    conditions: list[Condition] | None = None


class SpecSnapshot(_Status):
    """The approved spec a Run builds: its version and the commit holding its documents
    (docs/spec/ in the project's repository). documents is only set on runs stored
    before the documents moved out of status."""

    version: int | None = None
    commit_sha: str | None = Field(default=None, alias="commitSha")
    documents: dict[str, str] | None = None


class PlannedTask(BaseModel):
    """One task of a stored plan. The CRD keeps a planned task's unknown fields
    (x-kubernetes-preserve-unknown-fields), so this model keeps them too."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")
    id: str
    slug: str
    description: str | None = None
    instructions: str | None = None
    dependencies: list[str] = []
    path_scope: list[str] = Field(default=[], alias="pathScope")
    expected_outputs: list[str] = Field(default=[], alias="expectedOutputs")
    role: TaskRole | None = None
    test_command: list[str] | None = Field(default=None, alias="testCommand")

    @property
    def is_repair(self) -> bool:
        return self.role == REPAIR_ROLE

    def as_stored(self) -> dict[str, Any]:
        """The task as the planner wrote it (and the worker reads it)."""
        return self.model_dump(by_alias=True, exclude_unset=True)


class Plan(_Status):
    tasks: list[PlannedTask] = []
    merge_order: list[str] = Field(default=[], alias="mergeOrder")
    verify_command: list[str] = Field(default=[], alias="verifyCommand")

    @field_serializer("tasks")
    def _tasks_as_stored(self, tasks: list[PlannedTask]) -> list[dict[str, Any]]:
        return [task.as_stored() for task in tasks]


class TasksSummary(_Status):
    total: int = 0
    pending: int = 0
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


class VerificationResult(_Status):
    command: list[str] = []
    exit_code: int = Field(default=0, alias="exitCode")
    passed: int = 0
    failed: int = 0
    summary: str = ""
    # A number as stored: the apiserver hands an integral one back as an int, and it
    # stays one (the API answers the result as stored).
    duration_seconds: int | float | None = Field(default=None, alias="durationSeconds")
    output_tail: str | None = Field(default=None, alias="outputTail")


class PublishStatus(_Status):
    """Where a succeeded run's merged commit was pushed (url without credentials)."""

    phase: Literal["succeeded", "failed"] | None = None
    url: str | None = None
    branch: str | None = None
    commit: str | None = None
    pushed_at: str | None = Field(default=None, alias="pushedAt")
    message: str | None = None


class RepairStatus(_Status):
    """The repair rounds of a Run: how many started, out of how many allowed."""

    round: int | None = Field(default=None, ge=0)
    max_rounds: int | None = Field(default=None, alias="maxRounds", ge=0)


class RunStatus(_Status):
    run_number: int | None = Field(default=None, alias="runNumber", ge=1)
    phase: RunPhase | None = None
    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    message: str | None = None
    spec_snapshot: SpecSnapshot | None = Field(default=None, alias="specSnapshot")
    plan: Plan | None = None
    tasks_summary: TasksSummary | None = Field(default=None, alias="tasksSummary")
    verification_result: VerificationResult | None = Field(default=None, alias="verificationResult")
    merged_commit: str | None = Field(default=None, alias="mergedCommit")
    base_commit: str | None = Field(default=None, alias="baseCommit")
    started_at: str | None = Field(default=None, alias="startedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    duration: str | None = None
    publish: PublishStatus | None = None
    repair: RepairStatus | None = None
    usage: Usage | None = None
    conditions: list[Condition] | None = None


class ExecutorRef(_Status):
    """Where a task's worker runs: a local process (pid) or a Kubernetes Job (name) and
    the Pod it made (pod, once known)."""

    kind: Literal["local", "kubernetes"] | None = None
    name: str | None = None
    pid: int | None = None
    pod: str | None = None


class TaskResult(_Status):
    files_created: list[str] = Field(default=[], alias="filesCreated")
    files_modified: list[str] = Field(default=[], alias="filesModified")
    commit_sha: str | None = Field(default=None, alias="commitSha")


class BlockedConnection(_Status):
    """A destination the egress proxy refused a task's worker (status.egress.blocked[])."""

    host: str
    port: int
    time: str
    count: int = 1
    attempt: int | None = None
    reason: str | None = None


class EgressStatus(_Status):
    blocked: list[BlockedConnection] = Field(default_factory=list)
    blocked_total: int = Field(default=0, alias="blockedTotal")


class TaskStatus(_Status):
    phase: TaskPhase | None = None
    observed_generation: int | None = Field(default=None, alias="observedGeneration")
    message: str | None = None
    branch_name: str | None = Field(default=None, alias="branchName")
    worktree_path: str | None = Field(default=None, alias="worktreePath")
    base_commit: str | None = Field(default=None, alias="baseCommit")
    executor: ExecutorRef | None = None
    attempts: int | None = Field(default=None, ge=0)
    egress: EgressStatus | None = None
    result: TaskResult | None = None
    started_at: str | None = Field(default=None, alias="startedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    duration: str | None = None
    reused_from: str | None = Field(default=None, alias="reusedFrom")
    usage: TaskUsage | None = None
    conditions: list[Condition] | None = None


def status_patch(model: BaseModel, *names: str) -> dict[str, Any]:
    """A JSON merge patch (by alias) setting the named fields of a status model.

    None becomes an explicit null (merge patch: remove the field). A nested object is
    written whole, its absent fields as nulls too, so the stored object ends up equal
    to the model's (a merge patch would otherwise keep the old object's other keys).
    Lists replace the stored list as they are.
    """
    patch: dict[str, Any] = {}
    for name in names:
        field = type(model).model_fields[name]
        patch[field.alias or name] = _dump(getattr(model, name))
    return patch


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    if isinstance(value, list):
        return [
            item.model_dump(by_alias=True, exclude_none=True)
            if isinstance(item, BaseModel)
            else item
            for item in value
        ]
    return value


M = typing.TypeVar("M", bound=BaseModel)


def status_of(obj: Mapping[str, Any] | None, model: type[M]) -> M:
    """The status of a custom resource as read from the apiserver (or none yet), parsed."""
    return model.model_validate(dict((obj or {}).get("status") or {}))


def spec_of(obj: Mapping[str, Any], model: type[M]) -> M:
    """The spec of a custom resource as read from the apiserver, parsed."""
    return model.model_validate(dict(obj.get("spec") or {}))
