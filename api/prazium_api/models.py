"""Request bodies (pydantic): validated before any write, so bad input changes nothing."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10,
                                               max_length=20000)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateProject(Strict):
    name: Name
    description: Description


class UpdateProject(Strict):
    name: Name | None = None
    description: Description | None = None


class Answer(Strict):
    questionId: Annotated[str, Field(pattern=r"^q[0-9]{1,4}$")]
    answer: str | bool | list[Annotated[str, StringConstraints(max_length=2000)]]


class SubmitAnswers(Strict):
    answers: Annotated[list[Answer], Field(max_length=100)]


class Regenerate(Strict):
    feedback: Annotated[str | None, StringConstraints(max_length=10000)] = None


class StartRun(Strict):
    trigger: Literal["manual", "gitops"] = "manual"
    parallelism: Annotated[int | None, Field(ge=1, le=32)] = None


class CreateExport(Strict):
    runId: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    format: Literal["zip", "tar.gz"] = "zip"


class CreateDeployment(Strict):
    runId: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    provider: Annotated[str, StringConstraints(min_length=1, max_length=50)]


class Login(Strict):
    apiKey: Annotated[str, StringConstraints(min_length=1, max_length=200)]
