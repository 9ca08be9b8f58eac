"""Python models of the custom resources' spec and phases.

crds/*.yaml is what the apiserver enforces; these models are what Python code
reads and writes. tests/unit/test_models_match_crds.py checks that the two
agree field by field (names, required fields, enums), so neither drifts.
"""

from __future__ import annotations

import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

AgentName = Literal["template", "openai", "anthropic", "command"]
ProjectPhase = Literal[
    "draft", "clarifying", "spec_review", "approved", "building", "built", "failed", "archived"
]
RunPhase = Literal[
    "pending", "decomposing", "executing", "merging", "verifying", "succeeded", "failed",
    "cancelled",
]
TaskPhase = Literal["pending", "queued", "running", "succeeded", "failed", "cancelled"]
QuestionType = Literal["single_choice", "multi_choice", "boolean", "text"]

PROJECT_PHASES: tuple[str, ...] = typing.get_args(ProjectPhase)
RUN_PHASES: tuple[str, ...] = typing.get_args(RunPhase)
TASK_PHASES: tuple[str, ...] = typing.get_args(TaskPhase)
RUN_FINAL_PHASES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
RUN_ACTIVE_PHASES: frozenset[str] = frozenset(RUN_PHASES) - RUN_FINAL_PHASES
TASK_FINAL_PHASES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})

_CAMEL = ConfigDict(populate_by_name=True, extra="forbid")


class Answer(BaseModel):
    model_config = _CAMEL
    question_id: str = Field(alias="questionId", pattern=r"^q[0-9]+$")
    answer: Any


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


class TaskDefinition(BaseModel):
    model_config = _CAMEL
    id: str = Field(pattern=r"^task-[0-9]{3}$")
    slug: str = Field(max_length=40, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    description: str = Field(min_length=1, max_length=2000)
    instructions: str | None = Field(default=None, max_length=50000)
    dependencies: list[str] = []
    path_scope: list[str] = Field(alias="pathScope", min_length=1)
    expected_outputs: list[str] = Field(default=[], alias="expectedOutputs")


class TaskSpec(BaseModel):
    model_config = _CAMEL
    run_ref: ObjectRef = Field(alias="runRef")
    project_ref: ObjectRef = Field(alias="projectRef")
    sequence: int = Field(ge=1, le=999)
    definition: TaskDefinition
