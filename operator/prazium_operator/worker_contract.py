"""The worker's contract: what it is given (a request file) and what it returns (a result file).

The same JSON travels to a local child process and to a Kubernetes Job (on the
shared repo volume), so the operator cannot tell executors apart.

A floor below both sides: the executors and the run reconciler write requests and read
results, the worker (worker/) reads requests and writes results; neither imports the
other for it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prazium_kit.types import Obj

EXIT_SUCCEEDED = 0
EXIT_TASK_FAILED = 1
EXIT_BAD_REQUEST = 2


@dataclass(frozen=True)
class WorkerRequest:
    namespace: str
    project: str
    run: str
    task: Obj  # the plan's task definition as stored (id, slug, pathScope, ...): JSON
    documents: dict[str, str]
    repo_path: str
    worktree: str
    branch: str
    base_commit: str
    attempt: int
    result_path: str
    coder: str = "template"
    coder_options: Obj = field(default_factory=dict)
    # Name of the Secret holding the agent's credentials (spec.agent.credentialsSecret of
    # the run, else the project). The kubernetes executor gives the worker its keys as
    # environment (envFrom); only the name travels here, never a value.
    credentials_secret: str | None = None
    # The coding-agent loop (agents/loop; the `openai` and `anthropic` coders), all
    # optional so an older operator's requests still work; other coders ignore them.
    # agent_limits: an AgentLimits as JSON, overriding the worker's PRAZIUM_AGENT_*
    # settings field by field (the operator sends its own settings, later a Project's
    # or Run's). budget: an AgentBudget as JSON, what this attempt may still spend.
    # stop_file: a path the loop checks before every model request; once it exists the
    # attempt stops (BudgetExceeded) with the file's first line as the reason, so the
    # operator can stop a running attempt when a Run's budget is spent elsewhere.
    # verify_command: the plan's verifyCommand, the tests a task without a testCommand
    # runs before it may finish.
    agent_limits: Obj | None = None
    budget: Obj | None = None
    stop_file: str | None = None
    verify_command: list[str] | None = None
    # The Project's spec.network.egress at task start: what the egress proxy lets this
    # attempt's worker reach besides the LLM endpoints (kubernetes executor).
    egress: tuple[str, ...] = ()

    @property
    def task_id(self) -> str:
        return str(self.task["id"])

    def log_fields(self) -> Obj:
        """Context for log lines about this attempt (worker, executors)."""
        return {
            "namespace": self.namespace,
            "project": self.project,
            "run": self.run,
            "task": self.task_id,
            "attempt": self.attempt,
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WorkerRequest:
        data = json.loads(text)
        # Fields a newer operator added are left out, so the request can grow.
        known = {f.name for f in fields(cls)}
        data["egress"] = tuple(data.get("egress") or ())
        return cls(**{key: value for key, value in data.items() if key in known})


def request_path(result_path: Path) -> Path:
    return result_path.with_suffix(".request.json")


def pid_path(result_path: Path) -> Path:
    """Written by the worker at start: lets a restarted operator find a running worker."""
    return result_path.with_suffix(".pid")


def log_path(result_path: Path) -> Path:
    return result_path.with_suffix(".log")


def write_json_atomically(path: Path, data: Obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


StopReason = Literal[
    "Finished",
    "TestsFailing",
    "StepLimit",
    "TimeLimit",
    "OutputLimit",
    "StuckLoop",
    "BudgetExceeded",
    "ModelError",
]
"""Why a coding-agent loop's attempt stopped (WorkerResult.reason):

* Finished: the model called finish and the task's tests passed (or it owns none);
* TestsFailing: the model stopped working (no more tool calls) with the tests failing;
* StepLimit, TimeLimit, OutputLimit: a bound of AgentLimits was reached (the task's
  message then carries the last failing test output, if the tests were failing);
* StuckLoop: the same tool call returned the same result stuckRepeats times in a row;
* BudgetExceeded: the tokens or cost of AgentBudget or AgentLimits.maxTokens were
  reached, or the stop file appeared;
* ModelError: the provider failed (after the SDK's retries), refused, or answered
  something unusable.
"""

_CAMEL_MODEL = ConfigDict(populate_by_name=True, extra="ignore")


class AgentLimits(BaseModel):
    """Bounds of one coding-agent attempt (WorkerRequest.agent_limits); a field left out
    is the worker's own setting (PRAZIUM_AGENT_<FIELD>, agents/loop/limits.py)."""

    model_config = _CAMEL_MODEL
    max_steps: int | None = Field(default=None, ge=1, alias="maxSteps")
    max_seconds: float | None = Field(default=None, gt=0, alias="maxSeconds")
    max_output_bytes: int | None = Field(default=None, ge=1, alias="maxOutputBytes")
    command_timeout_seconds: float | None = Field(default=None, gt=0, alias="commandTimeoutSeconds")
    stuck_repeats: int | None = Field(default=None, ge=2, alias="stuckRepeats")
    # Tokens (input + output) one attempt may spend; 0: no limit.
    max_tokens: int | None = Field(default=None, ge=0, alias="maxTokens")


class ModelPrice(BaseModel):
    """Prices per million tokens of one model (any one currency, the operator's)."""

    model_config = _CAMEL_MODEL
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    # Input tokens read from the provider's prompt cache; default: the input price.
    cached_input: float | None = Field(default=None, ge=0, alias="cachedInput")
    # Input tokens written to the cache (Anthropic prices them apart); default: input.
    cache_write_input: float | None = Field(default=None, ge=0, alias="cacheWriteInput")


class AgentBudget(BaseModel):
    """What this attempt may still spend (WorkerRequest.budget): the loop stops with
    BudgetExceeded before a model request once the attempt's usage has reached maxTokens
    (input + output tokens) or its cost has reached maxCost. The cost is counted only
    for models that prices names (keyed by the model name the request used)."""

    model_config = _CAMEL_MODEL
    max_tokens: int | None = Field(default=None, ge=0, alias="maxTokens")
    max_cost: float | None = Field(default=None, ge=0, alias="maxCost")
    prices: dict[str, ModelPrice] = {}


class AgentUsage(BaseModel):
    """The model requests of one attempt, summed (WorkerResult.usage).

    inputTokens counts every input token the provider processed, cachedInputTokens
    (OpenAI's prompt_tokens_details.cached_tokens, Anthropic's cache_read_input_tokens)
    and cacheWriteInputTokens (Anthropic's cache_creation_input_tokens) included;
    cost is present when the request's budget priced the model."""

    model_config = _CAMEL_MODEL
    provider: str
    model: str
    requests: int = Field(default=0, ge=0)
    input_tokens: int = Field(default=0, ge=0, alias="inputTokens")
    output_tokens: int = Field(default=0, ge=0, alias="outputTokens")
    cached_input_tokens: int = Field(default=0, ge=0, alias="cachedInputTokens")
    cache_write_input_tokens: int = Field(default=0, ge=0, alias="cacheWriteInputTokens")
    cost: float | None = Field(default=None, ge=0)


class WorkerResult(BaseModel):
    """What a worker attempt came to: the result file, written once at the attempt's end.

    A coding-agent loop's attempt (succeeded or failed) also carries usage (its model
    requests summed), reason (the StopReason) and steps (model requests made); the same
    usage arrives while it runs, one AGENT_USAGE event per request in the event file
    (payload: taskId, attempt, request (1, 2, ...), provider, model, inputTokens,
    outputTokens, cachedInputTokens, cacheWriteInputTokens; recorder.usage_payload)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    attempt: int | None = None
    status: Literal["succeeded", "failed"] | None = None
    error: str | None = None
    commit_sha: str | None = Field(default=None, alias="commitSha")
    files_created: list[str] = Field(default=[], alias="filesCreated")
    files_modified: list[str] = Field(default=[], alias="filesModified")
    started_at: str | None = Field(default=None, alias="startedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    duration_seconds: float | None = Field(default=None, alias="durationSeconds")
    usage: AgentUsage | None = None
    reason: StopReason | None = None
    steps: int | None = Field(default=None, ge=0)

    def to_file(self) -> Obj:
        return self.model_dump(by_alias=True, exclude_unset=True)


# The worker's files are written beside untrusted code: never read more than this.
MAX_RESULT_BYTES = 8 * 1024 * 1024


def _read_bounded(path: Path) -> bytes | None:
    """The file's bytes, None when missing or larger than MAX_RESULT_BYTES."""
    try:
        # Never through a symlink (in a worker Pod, untrusted code can write the results
        # directory), never blocking on a FIFO.
        with open(path, "rb", opener=_no_follow) as handle:
            data = handle.read(MAX_RESULT_BYTES + 1)
    except FileNotFoundError:
        return None
    except OSError:  # a symlink (ELOOP), a directory, ...
        return None
    return data if len(data) <= MAX_RESULT_BYTES else None


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)


def read_result(path: Path) -> Obj | None:
    """A JSON file the worker wrote (result or pid file); None while there is none."""
    data = _read_bounded(path)
    if data is None:
        return None
    try:
        loaded = json.loads(data)
    except ValueError:
        return None
    return dict(loaded) if isinstance(loaded, dict) else None


def read_worker_result(path: Path) -> WorkerResult | None:
    """The attempt's result; None while there is none (or it is not a result at all)."""
    data = _read_bounded(path)
    if data is None:
        return None
    try:
        return WorkerResult.model_validate_json(data)
    except ValidationError:
        return None
