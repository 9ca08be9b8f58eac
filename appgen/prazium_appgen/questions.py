"""Clarifying questions and the interpretation of their answers.

The questions ask what the description left open, in all four types:

* one per product feature the text mentions (:mod:`features`), first, in
  catalogue order;
* the records found, as a multiple choice of the ones to keep (yes/no when there
  is one), and a free-text question for other records to add;
* then per record, parents first: each link to another record, as yes/no
  (stated, implied or likely: :mod:`links`); which fields must be filled in, as
  a multiple choice; and for each text field that looks like a closed set
  (a status, a priority, a size) whose values the text does not list, its values
  as free text;
* the currency of money amounts, as a single choice, when the text names none.

Questions are recomputed from the description whenever answers are read, so the
mapping from question id (``q3``) to meaning (``link:Visit:Pet``) never needs to
be stored: the same description always yields the same questions in the same
order. :mod:`answers` reads the answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_appgen.attributes import CLOSED_SET_WORDS, ENUM_DEFAULTS
from prazium_appgen.currency import CURRENCY_OPTIONS, PLAIN_AMOUNTS, currency_code
from prazium_appgen.entities import Entity, Field
from prazium_appgen.entity_selection import build_entities, feature_entities
from prazium_appgen.features import Feature, detect_features
from prazium_appgen.naming import with_article, words_of
from prazium_appgen.reader import Reading, read
from prazium_kit.agentapi import Question as QuestionDocument
from prazium_kit.agentapi import QuestionType

RECORDS_KEY = "records"
"""The records found: which to keep."""
MORE_RECORDS_KEY = "more_records"
"""Other records to add, in the user's words."""
CURRENCY_KEY = "currency"
LINK, REQUIRED, VALUES = "link", "required", "values"
MAX_QUESTIONS = 60
"""A form a person still reads through; per-record questions past it are left out."""

QuestionDraft = tuple[str, str, QuestionType, tuple[str, ...], tuple[str, ...], tuple[str, ...]]
"""key, text, type, options, what each option stands for, suggested options."""


@dataclass(frozen=True)
class Question:
    id: str
    key: str
    text: str
    type: QuestionType
    options: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    """What each option stands for (field names of a required-fields question)."""
    suggested: tuple[str, ...] = ()
    """The options the description suggests (kept when the answer ticks none)."""

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


@dataclass(frozen=True)
class Draft:
    """What the description alone says: the base of the questions and the spec."""

    features: tuple[Feature, ...]
    reading: Reading
    records: tuple[str, ...]
    """The records found, in order of mention, then Team/User for the features."""
    entities: tuple[Entity, ...]
    """The data model if every question keeps the suggestion."""
    currency: str
    """The currency the text names ('' if none)."""


def draft(display_name: str, description: str) -> Draft:
    features = tuple(detect_features(description_text(display_name, description)))
    text = records_text(display_name, description)
    reading = read(text)
    keys = {feature.key for feature in features}
    records = tuple(dict.fromkeys(reading.records + feature_entities(keys)))
    entities = build_entities(reading, list(records))
    return Draft(features, reading, records, tuple(entities), currency_code(description))


def build_questions(display_name: str, description: str) -> list[Question]:
    return questions_for(draft(display_name, description))


def questions_for(base: Draft) -> list[Question]:
    drafts: list[QuestionDraft] = [
        (feature.key, feature.question, feature.question_type, feature.options, (), ())
        for feature in base.features
    ]
    records = [name for name in base.records if name in {e.name for e in base.entities}]
    if len(records) == 1:
        label = " ".join(words_of(records[0]))
        drafts.append(
            (
                RECORDS_KEY,
                f"Found in the description: {records[0]}. Should the app keep {label} records?",
                "boolean",
                (),
                tuple(records),
                tuple(records),
            )
        )
    elif len(records) >= 2:
        drafts.append(
            (
                RECORDS_KEY,
                f"Found in the description: {', '.join(records)}. Which of these kinds of "
                "records should the app keep (ticking none keeps them all)?",
                "multi_choice",
                tuple(records),
                tuple(records),
                tuple(records),
            )
        )
    drafts.append(
        (
            MORE_RECORDS_KEY,
            "Which other kinds of records should the app keep, if any? Name them separated"
            ' by commas (for example "invoices, suppliers"), or say what they belong to'
            ' ("vaccinations of pets"); leave empty for none.',
            "text",
            (),
            (),
            (),
        )
    )
    per_record = [item for entity in base.entities for item in _record_questions(base, entity)]
    currency = _currency_question(base)
    room = MAX_QUESTIONS - len(drafts) - len(currency)
    drafts += per_record[: max(room, 0)] + currency
    return [
        Question(f"q{index}", key, text, type_, options, values, suggested)
        for index, (key, text, type_, options, values, suggested) in enumerate(drafts, start=1)
    ]


def _record_questions(base: Draft, entity: Entity) -> list[QuestionDraft]:
    label = entity.label
    questions: list[QuestionDraft] = []
    for field in entity.references:
        parent = " ".join(words_of(field.references))
        questions.append(
            (
                f"{LINK}:{entity.name}:{field.references}",
                f"Should each {label} be linked to {with_article(parent)}, picked on the"
                f" {label}'s form?",
                "boolean",
                (),
                (),
                (),
            )
        )
    fillable = [field for field in entity.fields if field.type != "boolean"]
    if len(fillable) >= 2:
        options = _option_labels(fillable)
        suggested = tuple(o for o, f in zip(options, fillable, strict=True) if f.required)
        keep = f"keeps: {', '.join(suggested)}" if suggested else "leaves them all optional"
        questions.append(
            (
                f"{REQUIRED}:{entity.name}",
                f"Which {label} fields must always be filled in (ticking none {keep})?",
                "multi_choice",
                options,
                tuple(field.name for field in fillable),
                suggested,
            )
        )
    for field in entity.fields:
        if _looks_closed(field):
            name = " ".join(words_of(field.name))
            default = ENUM_DEFAULTS.get(words_of(field.name)[-1])
            keep = f"keep: {', '.join(default)}" if default else "allow any text"
            questions.append(
                (
                    f"{VALUES}:{entity.name}.{field.name}",
                    f"Which values can the {name} of {with_article(label)} take? List them"
                    f" separated by commas, or leave empty to {keep}.",
                    "text",
                    (),
                    (),
                    (),
                )
            )
    return questions


def _looks_closed(field: Field) -> bool:
    """A text field named like a closed set whose values the text does not list."""
    words = words_of(field.name)
    return (
        field.type == "string"
        and not field.format
        and not field.choices
        and not field.references
        and bool(words)
        and words[-1] in CLOSED_SET_WORDS
    ) or (field.type == "string" and bool(words) and words[-1] in ENUM_DEFAULTS)


def _option_labels(fields: list[Field]) -> tuple[str, ...]:
    """A field's words (``due date``; a reference by its record: ``pet``), or its name
    where two would read the same."""
    labels = [
        " ".join(words_of(field.name)[:-1] if field.references else words_of(field.name))
        for field in fields
    ]
    return tuple(
        label if labels.count(label) == 1 else field.name
        for label, field in zip(labels, fields, strict=True)
    )


def _currency_question(base: Draft) -> list[QuestionDraft]:
    amounts = [
        f"{entity.label} {' '.join(words_of(field.name))}"
        for entity in base.entities
        for field in entity.fields
        if field.format == "money"
    ]
    if not amounts or base.currency:
        return []
    shown = ", ".join(amounts[:4]) + (", …" if len(amounts) > 4 else "")
    return [
        (
            CURRENCY_KEY,
            f"Which currency are the amounts ({shown}) in?",
            "single_choice",
            CURRENCY_OPTIONS,
            (),
            (PLAIN_AMOUNTS,),
        )
    ]
