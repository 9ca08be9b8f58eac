"""Reading the answers that name records or list values, in the words people use.

A record may be named singular or plural, in any case (``meal plans``,
``MealPlan``); a part of an answer that is a sentence names the records the
reader finds in it ("vaccinations for each pet"), so "keep it simple" names
none. Earlier versions asked one free-text question about the records, with
``also ...`` to add and ``without ...`` to drop; such stored answers still mean
what they meant (:func:`records_from_text`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from prazium_appgen.lexicon import ADJECTIVES, DETERMINERS
from prazium_appgen.mentions import record_words
from prazium_appgen.naming import camel_case
from prazium_appgen.phrases import phrases
from prazium_appgen.reader import read
from prazium_appgen.tokens import tokenize

MAX_ENTITY_WORDS = 4
KEEP_ANSWERS = frozenset(
    {"none", "no", "nothing", "keep", "same", "ok", "okay", "yes", "y", "fine", "good",
     "default", "defaults", "n/a", "na", "-", "unchanged", "correct", "as is", "looks good",
     "keep them", "keep it", "keep these", "keep those", "same as above", "no change",
     "no changes", "that's fine", "sounds good", "all good", "as detected", "as suggested",
     "all", "all of them", "keep all", "keep them all", "none of them", "no others",
     "nothing else", "no more"}
)  # fmt: skip
"""Answers that name no records: keep what was suggested."""
ADD_PREFIX = re.compile(r"^\s*(?:also|add|plus|and|as well as|additionally)\b[:\s]*", re.I)
REMOVE_PREFIX = re.compile(r"^\s*(?:without|remove|drop|no|not|minus|except)\b[:\s]*", re.I)
FREE_TEXT_ANSWERS = frozenset(
    {"any", "anything", "any text", "free text", "free", "text", "none", "no list", "no",
     "not a list", "open", "free form", "freeform", "n/a", "-"}
)  # fmt: skip
"""Answers to "which values?" that leave a field free text."""
VALUE_SEPARATORS = re.compile(r"\s*(?:[,;/\n|]|\bor\b|\band\b)\s*", re.I)
MAX_VALUES = 30
MAX_VALUE_LENGTH = 60


def answer_record_names(answer: str, known: Sequence[str] = ()) -> list[str] | None:
    """Record names listed in an answer; None when the answer names none.

    Each comma/``and`` separated part that is one noun phrase names a record,
    singular or plural (``Recipe, meal plans``); a part that is a sentence adds
    only the records the reader finds in it, so "Keep it simple" adds none. A part
    spelling one of the ``known`` names (``MealPlan``) is that name.
    """
    text = answer.strip().rstrip(".!")
    if text.lower() in KEEP_ANSWERS or not text:
        return None
    by_key = {_key(name): name for name in known}
    names: list[str] = []
    for part in re.split(r"[,;/\n]|\band\b|&|\bplus\b", text):
        match = by_key.get(_key(part))
        names.extend([match] if match else _part_records(part.lower()))
    return list(dict.fromkeys(names)) or None


def _part_records(part: str) -> list[str]:
    words = [token.text for token in tokenize(part) if token.is_word]
    content = [word for word in words if word not in DETERMINERS and word not in ADJECTIVES]
    found = phrases(tokenize(" ".join(content)))
    if len(found) == 1 and list(found[0].words) == content and len(content) <= MAX_ENTITY_WORDS:
        return [camel_case(list(record_words(content)))]
    return read(part).records


def records_from_text(detected: list[str], answer: str) -> list[str]:
    """The records after a free-text answer about them: ``without ...`` drops,
    ``also ...`` adds, a list replaces, anything else keeps ``detected``."""
    if REMOVE_PREFIX.match(answer):
        removed = answer_record_names(REMOVE_PREFIX.sub("", answer, count=1), detected) or []
        return [name for name in detected if name not in removed]
    if ADD_PREFIX.match(answer):
        added = answer_record_names(ADD_PREFIX.sub("", answer, count=1), detected) or []
        return list(dict.fromkeys(detected + added))
    listed = answer_record_names(answer, detected)
    return detected if listed is None else listed


def records_from_choices(detected: list[str], picked: Sequence[str]) -> list[str]:
    """The records ticked in a list of ``detected`` ones (options, or record names typed
    by a client); ticking none keeps them all."""
    chosen: list[str] = []
    for item in picked:
        chosen.extend(answer_record_names(item, detected) or [])
    return list(dict.fromkeys(chosen)) or list(detected)


def extra_records(answer: str) -> tuple[list[str], list[str]]:
    """(added, dropped) record names of an answer to "which other records?"."""
    if REMOVE_PREFIX.match(answer) and answer.strip().lower() not in KEEP_ANSWERS:
        return [], answer_record_names(REMOVE_PREFIX.sub("", answer, count=1)) or []
    return answer_record_names(ADD_PREFIX.sub("", answer, count=1)) or [], []


def value_list(answer: str) -> tuple[str, ...] | None:
    """The closed set an answer lists; ``()`` for an answer that asks for free text and
    None for one that lists no set of two or more values ("", "keep it simple": keep
    the suggestion)."""
    text = answer.strip().rstrip(".")
    if not text:
        return None
    if text.lower() in FREE_TEXT_ANSWERS:
        return ()
    values: dict[str, str] = {}
    for part in VALUE_SEPARATORS.split(text):
        value = part.strip().strip("\"'")[:MAX_VALUE_LENGTH].strip()
        if value and value.lower() not in values:
            values[value.lower()] = value
    listed = tuple(values.values())[:MAX_VALUES]
    return listed if len(listed) >= 2 else None


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())
