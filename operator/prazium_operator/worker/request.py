"""The worker's contract: what it is given (a request file) and what it returns (a result file).

The same JSON travels to a local child process and to a Kubernetes Job (on the
shared repo volume), so the operator cannot tell executors apart.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
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
        data["egress"] = tuple(data.get("egress") or ())
        return cls(**data)


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


class WorkerResult(BaseModel):
    """What a worker attempt came to: the result file, written once at the attempt's end."""

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
