"""A Project's answers are stored typed (answer, choices or boolean by question type)
and read back as the values they were sent, in either form: the typed one written
now, and the untyped answer of Projects stored before."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import TypeAdapter

from prazium_api.contract import responses, views
from prazium_kit import models
from prazium_kit.kinds import PROJECT
from prazium_operator.reconcilers.project.spec import answers_digest


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("Email/Password", {"questionId": "q1", "answer": "Email/Password"}),
        ("true", {"questionId": "q1", "answer": "true"}),
        (["a", "b"], {"questionId": "q1", "choices": ["a", "b"]}),
        ([], {"questionId": "q1", "choices": []}),
        (False, {"questionId": "q1", "boolean": False}),
    ],
)
def test_each_value_goes_to_the_field_of_its_type(value: object, stored: object) -> None:
    answer = models.Answer.of("q1", value)  # type: ignore[arg-type]
    assert answer.model_dump(by_alias=True, exclude_none=True) == stored
    assert answer.value == value
    assert models.Answer.model_validate(stored).value == value


def test_answers_stored_untyped_read_as_they_were_sent() -> None:
    for legacy in (True, ["a", "b"], "text", 3):
        answer = models.Answer.model_validate({"questionId": "q2", "answer": legacy})
        assert answer.value == legacy


def test_the_digest_of_answers_does_not_depend_on_their_form() -> None:
    """Spec documents written from answers stored untyped are not stale once the same
    answers are read (or written again) typed: no regeneration after an upgrade."""
    untyped = [
        models.Answer.model_validate({"questionId": "q1", "answer": "Email"}),
        models.Answer.model_validate({"questionId": "q2", "answer": True}),
        models.Answer.model_validate({"questionId": "q3", "answer": ["a"]}),
    ]
    typed = [models.Answer.of("q1", "Email"), models.Answer.of("q2", True)]
    typed.append(models.Answer.of("q3", ["a"]))
    assert answers_digest(untyped) == answers_digest(typed)
    assert answers_digest(typed) != answers_digest([models.Answer.of("q2", False)])


def test_the_project_answers_each_value_as_sent() -> None:
    project = PROJECT.of(
        {
            "metadata": {"name": "shop", "namespace": "t"},
            "spec": {
                "displayName": "Shop",
                "description": "a small shop",
                "answers": [
                    {"questionId": "q1", "answer": "A"},
                    {"questionId": "q2", "choices": ["x"]},
                    {"questionId": "q3", "boolean": True},
                    {"questionId": "q4", "answer": False},  # stored before answers were typed
                ],
            },
        }
    )
    adapter = TypeAdapter(responses.ProjectDetail)
    detail = adapter.serializer.to_python(
        views.project_detail(project, Path("/data"), "h"), by_alias=True, mode="json"
    )
    assert detail["answers"] == [
        {"questionId": "q1", "answer": "A"},
        {"questionId": "q2", "answer": ["x"]},
        {"questionId": "q3", "answer": True},
        {"questionId": "q4", "answer": False},
    ]
