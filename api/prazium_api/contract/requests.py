"""Request bodies (pydantic): validated before any write, so bad input changes nothing."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
)

from prazium_api.contract import textcheck
from prazium_kit.ids import DNS1123_LABEL_PATTERN

# Names end up in CR annotations, READMEs, page titles and file headers: one line,
# no control characters, no bidi overrides that make text read other than it is.
# Free text (descriptions, feedback, answers) may span lines (\n, \r, \t) but
# carries no other control character (a NUL reached the generated README).
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(textcheck.single_line),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=10, max_length=20000),
    AfterValidator(textcheck.multi_line),
]


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

    @field_validator("answer")
    @classmethod
    def _text_only(cls, value: str | bool | list[str]) -> str | bool | list[str]:
        # Checked after the union is resolved, so an error names the answer itself.
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                textcheck.multi_line(text)
        return value


class SubmitAnswers(Strict):
    answers: Annotated[list[Answer], Field(max_length=100)]


class Regenerate(Strict):
    feedback: Annotated[
        str | None,
        StringConstraints(max_length=10000),
        AfterValidator(textcheck.optional_multi_line),
    ] = None


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


class CreateKey(Strict):
    tenant: Annotated[str, StringConstraints(max_length=63), Field(pattern=DNS1123_LABEL_PATTERN)]
    tier: Literal["free", "pro", "enterprise"] = "free"
    # A JSON boolean only: "yes", "true" or 1 is refused, not read as true.
    admin: StrictBool = False
