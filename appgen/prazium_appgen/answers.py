"""Reading the answers to the clarifying questions.

Answers arrive keyed by question id, as a string, a list of strings or a bool
(clients may send a yes/no as ``"yes"`` and a list as ``"a, b"``). The
questions are recomputed from the description (:mod:`questions`), so each id
maps back to its meaning. An unanswered question keeps what the description
suggested, and so does an empty answer: a form that ticks nothing keeps the
suggested records and required fields.

Feature answers are normalized to their question's type (:func:`feature_answer`);
the answers about the data become the kept and added records and a
:class:`~entity_selection.DataChoices`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prazium_appgen.currency import PLAIN_AMOUNTS, currency_code
from prazium_appgen.entity_selection import DataChoices
from prazium_appgen.features import FEATURES_BY_KEY
from prazium_appgen.questions import (
    CURRENCY_KEY,
    LINK,
    MORE_RECORDS_KEY,
    RECORDS_KEY,
    REQUIRED,
    VALUES,
    Question,
    draft,
    questions_for,
)
from prazium_appgen.record_answers import (
    extra_records,
    records_from_choices,
    records_from_text,
    value_list,
)

Answer = str | bool | list[str]
DEFAULT = "(default)"


@dataclass
class Resolved:
    """The answers, read: features by key, and the records and data choices."""

    features: dict[str, Answer] = field(default_factory=dict)
    records: list[str] = field(default_factory=list)
    """The records to build: those kept, then those added."""
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    refused_links: set[tuple[str, str]] = field(default_factory=set)
    required: dict[str, frozenset[str]] = field(default_factory=dict)
    values: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    currency: str = ""
    data_answers: list[tuple[Question, str]] = field(default_factory=list)
    """Every data question with its answer in words ("(default)" if none), for SPEC.md."""
    more_records_text: str = ""
    """The answer naming other records, read with the description (it may say what
    they belong to)."""

    @property
    def choices(self) -> DataChoices:
        return DataChoices(
            frozenset(self.refused_links), dict(self.required), dict(self.values), self.currency
        )

    def final_records(self) -> list[str]:
        return [name for name in dict.fromkeys(self.records + self.added)
                if name not in self.dropped]  # fmt: skip


def resolve_answers(
    display_name: str, description: str, answers: Mapping[str, object]
) -> tuple[list[Question], Resolved]:
    """The questions and what their answers decide."""
    base = draft(display_name, description)
    questions = questions_for(base)
    resolved = Resolved(records=list(base.records), currency=base.currency)
    for question in questions:
        raw = answers.get(question.id)
        if question.key in FEATURES_BY_KEY:
            resolved.features[question.key] = feature_answer(question, raw)
            continue
        words = _apply(question, raw, resolved) if given(raw) else DEFAULT
        resolved.data_answers.append((question, words))
    resolved.records = resolved.final_records()
    resolved.added = [name for name in resolved.records if name not in base.records]
    return questions, resolved


def _apply(question: Question, raw: object, resolved: Resolved) -> str:
    """Record one answer's decision; returns the answer in words."""
    kind, _, subject = question.key.partition(":")
    if question.key == RECORDS_KEY:
        resolved.records = kept_records(question, raw)
        return ", ".join(resolved.records) or "None"
    if question.key == MORE_RECORDS_KEY and (text := as_text(raw)):
        more, gone = extra_records(text)
        resolved.added += more
        resolved.dropped += gone
        resolved.more_records_text = text
        return text
    if kind == LINK:
        child, _, parent = subject.partition(":")
        keep = yes(raw)
        if not keep:
            resolved.refused_links.add((child, parent))
        return "Yes" if keep else "No"
    if kind == REQUIRED:
        picked = picked_fields(question, raw)
        if not picked:
            return DEFAULT
        resolved.required[subject] = frozenset(picked)
        return ", ".join(o for o, v in zip(question.options, question.values, strict=True)
                         if v in picked)  # fmt: skip
    if kind == VALUES and (text := as_text(raw)):
        listed = value_list(text)
        if listed is None:
            return DEFAULT
        entity, _, field_name = subject.partition(".")
        resolved.values[(entity, field_name)] = listed
        return ", ".join(listed) if listed else "any text"
    if question.key == CURRENCY_KEY:
        resolved.currency = currency_code(as_text(raw))
        return resolved.currency or PLAIN_AMOUNTS
    return DEFAULT


def kept_records(question: Question, raw: object) -> list[str]:
    """The records found that an answer to the records question keeps (with any it
    names besides, which an earlier version's list answer could)."""
    detected = list(question.values)
    if question.type == "boolean" and (isinstance(raw, bool) or is_yes_or_no(raw)):
        return detected if yes(raw) else []
    if isinstance(raw, str):
        # Also the free-text answer to the records question of earlier versions, which
        # may still be stored: "also ...", "without ...", or a list that replaces.
        return records_from_text(detected, raw)
    if isinstance(raw, list):
        return records_from_choices(detected, [str(item) for item in raw])
    return detected


def as_text(raw: object) -> str:
    """A text answer as sent: a string, or a list of strings read as one comma list
    (clients may send a text answer as either); '' for anything else."""
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, list | tuple):
        return ", ".join(str(item).strip() for item in raw if str(item).strip())
    return ""


def given(raw: object) -> bool:
    """Whether an answer says anything: empty text and an empty list do not."""
    if raw is None:
        return False
    if isinstance(raw, str):
        return bool(raw.strip())
    if isinstance(raw, list | tuple):
        return any(str(item).strip() for item in raw)
    return True


YES_NO = frozenset({"yes", "y", "true", "1", "on", "no", "n", "false", "0", "off"})


def is_yes_or_no(raw: object) -> bool:
    return isinstance(raw, str) and raw.strip().lower() in YES_NO


def yes(raw: object) -> bool:
    """A yes/no answer; anything but a clear no is yes (the question's default)."""
    if isinstance(raw, bool):
        return raw
    text = str(raw[0] if isinstance(raw, list | tuple) and raw else raw).strip().lower()
    return text not in ("no", "n", "false", "0", "off", "none")


def picked_fields(question: Question, raw: object) -> list[str]:
    """The field names a required-fields answer ticks (its options, or field names)."""
    items = raw if isinstance(raw, list) else raw.split(",") if isinstance(raw, str) else []
    lookup = {value: value for value in question.values}
    lookup |= {value.replace("_", " "): value for value in question.values}
    lookup |= {option.lower(): value for option, value in zip(question.options, question.values,
                                                              strict=True)}  # fmt: skip
    picked = [lookup.get(str(item).strip().lower()) for item in items]
    return list(dict.fromkeys(name for name in picked if name))


def feature_answer(question: Question, raw: object) -> Answer:
    """A feature question's answer, normalized to its type; unanswered: the first option
    of a choice, ``True`` for a yes/no question about a feature the description asked for,
    and the empty string for free text."""
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
