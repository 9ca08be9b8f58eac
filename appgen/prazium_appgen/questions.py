"""Clarifying questions and the interpretation of their answers.

Questions are recomputed from the description whenever answers are read, so the
mapping from question id (``q3``) to meaning (``realtime``) never needs to be
stored: the same description always yields the same questions in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_appgen.entity_selection import entities_for_description
from prazium_appgen.features import detect_features
from prazium_kit.agentapi import Question as QuestionDocument
from prazium_kit.agentapi import QuestionType

ENTITIES_KEY = "entities"
"""Key of the always-present question confirming which records the app manages."""

Answer = str | bool | list[str]


@dataclass(frozen=True)
class Question:
    id: str
    key: str
    text: str
    type: QuestionType
    options: tuple[str, ...] = ()

    def as_dict(self) -> QuestionDocument:
        result: QuestionDocument = {"id": self.id, "question": self.text, "type": self.type}
        if self.type in ("single_choice", "multi_choice"):
            result["options"] = list(self.options)
        return result


def description_text(display_name: str, description: str) -> str:
    """The text features are detected in: the name often says what the app is."""
    return f"{display_name}\n{description}"


def records_text(display_name: str, description: str) -> str:
    """The text records are read from: the description, or the name when it is empty.

    A title such as "Clinic Shifts" names the app, not a table, when a
    description says what it holds.
    """
    return description if description.strip() else display_name


def build_questions(display_name: str, description: str) -> list[Question]:
    """One question per detected feature (catalogue order), then the entities question."""
    text = description_text(display_name, description)
    features = detect_features(text)
    drafts = [
        (feature.key, feature.question, feature.question_type, feature.options)
        for feature in features
    ]
    entities = entities_for_description(
        records_text(display_name, description), {feature.key for feature in features}
    )
    listed = ", ".join(entity.name for entity in entities) if entities else "none detected"
    drafts.append(
        (
            ENTITIES_KEY,
            "Which kinds of records should the app manage? "
            f"Detected: {listed}. Answer with a comma-separated list to replace them, "
            '"also ..." to add some, "without ..." to drop some, or leave empty to keep them.',
            "text",
            (),
        )
    )
    return [
        Question(f"q{index}", key, text_, type_, options)
        for index, (key, text_, type_, options) in enumerate(drafts, start=1)
    ]


def resolve_answers(questions: list[Question], answers: dict[str, object]) -> dict[str, Answer]:
    """Answers keyed by question key, normalized to the question's type.

    Unanswered questions get a default: the first option of a choice, ``True``
    for a yes/no question about a feature the description asked for, and the
    empty string for free text.
    """
    return {question.key: _normalize(question, answers.get(question.id)) for question in questions}


def _normalize(question: Question, raw: object) -> Answer:
    if question.type == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip():
            return raw.strip().lower() in ("yes", "y", "true", "1", "on")
        return True
    if question.type == "multi_choice":
        # A single string is one option if it names one, else a comma-separated list.
        if isinstance(raw, str) and raw.strip() not in question.options:
            raw = raw.split(",")
        return _as_strings(raw) or list(question.options[:1])
    values = _as_strings(raw)
    if question.type == "single_choice":
        return values[0] if values else question.options[0]
    return ", ".join(values)


def _as_strings(raw: object) -> list[str]:
    if isinstance(raw, list | tuple):
        return [str(item).strip() for item in raw if str(item).strip()]
    if raw is None or isinstance(raw, bool):
        return []
    return [str(raw).strip()] if str(raw).strip() else []
