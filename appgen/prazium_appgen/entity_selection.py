"""Which entities a spec describes, decided from description, answers and feedback.

Records come from the description's own words (:mod:`reader`); the vocabulary
only supplies good default fields for records it knows. This runs only while
writing the spec; afterwards DATA.md is the single source of truth (the
decomposer and coder parse it), so a user who edits DATA.md by hand or supplies
it through GitOps gets exactly the entities written there.
"""

from __future__ import annotations

import re

from prazium_appgen.entities import (
    FALLBACK_ENTITY,
    Entity,
    Field,
    fields,
    parents_first,
)
from prazium_appgen.features import AUTHENTICATION, TEAMS
from prazium_appgen.lexicon import ADJECTIVES, DETERMINERS
from prazium_appgen.mentions import record_words
from prazium_appgen.naming import camel_case, snake_case, words_of
from prazium_appgen.phrases import phrases
from prazium_appgen.reader import Reading, Relation, read
from prazium_appgen.tokens import tokenize
from prazium_appgen.vocabulary import KNOWN_BY_NAME

# Fields for an entity the vocabulary does not know: enough for a useful CRUD resource.
CUSTOM_ENTITY_FIELDS = ("name:string!", "description:string")
IDENTITY_FIELDS = ("name", "title")
MAX_ENTITY_WORDS = 4
KEEP_ANSWERS = frozenset(
    {"none", "no", "nothing", "keep", "same", "ok", "okay", "yes", "y", "fine", "good",
     "default", "defaults", "n/a", "na", "-", "unchanged", "correct", "as is", "looks good",
     "keep them", "keep it", "keep these", "keep those", "same as above", "no change",
     "no changes", "that's fine", "sounds good", "all good", "as detected", "as suggested"}
)  # fmt: skip
"""Answers that keep the detected records."""
ADD_PREFIX = re.compile(r"^\s*(?:also|add|plus|and|as well as|additionally)\b[:\s]*", re.I)
REMOVE_PREFIX = re.compile(r"^\s*(?:without|remove|drop|no|not|minus|except)\b[:\s]*", re.I)


def entities_for_description(text: str, feature_keys: set[str]) -> list[Entity]:
    """Entities named in the text, plus Team/User implied by the chosen features."""
    reading = read(text)
    return build_entities(reading, reading.records, feature_keys)


def answer_record_names(answer: str) -> list[str] | None:
    """Record names listed in an answer; None when the answer keeps the suggestions.

    Each comma/``and`` separated part that is one noun phrase names a record,
    singular or plural (``Recipe, meal plans``); a part that is a sentence adds
    only the records the reader finds in it, so "Keep it simple" adds none.
    """
    text = answer.strip().lower().rstrip(".!")
    if text in KEEP_ANSWERS or not text:
        return None
    names: list[str] = []
    for part in re.split(r"[,;/\n]|\band\b|&|\bplus\b", text):
        names.extend(_part_records(part))
    return list(dict.fromkeys(names)) or None


def _part_records(part: str) -> list[str]:
    words = [token.text for token in tokenize(part) if token.is_word]
    content = [word for word in words if word not in DETERMINERS and word not in ADJECTIVES]
    found = phrases(tokenize(" ".join(content)))
    if len(found) == 1 and list(found[0].words) == content and len(content) <= MAX_ENTITY_WORDS:
        return [camel_case(list(record_words(content)))]
    return read(part).records


def select_entities(
    description_text: str,
    feature_keys: set[str],
    entities_answer: str,
    feedback: str | None,
) -> list[Entity]:
    """The spec's entity list; never empty.

    An answer listing records replaces the detected ones (``also ...`` adds to
    them, ``without ...`` removes some); records the regenerate feedback names
    are added. Fields and relations the description states are kept for every
    record that stays.
    """
    text = description_text + (f"\n{feedback}" if feedback else "")
    reading = read(text)
    names = read(description_text).records
    if entities_answer.strip():
        names = _apply_answer(names, entities_answer)
    if feedback:
        names = list(dict.fromkeys(names + read(feedback).records))
    return build_entities(reading, names, feature_keys) or [FALLBACK_ENTITY]


def _apply_answer(detected: list[str], answer: str) -> list[str]:
    if REMOVE_PREFIX.match(answer):
        removed = answer_record_names(REMOVE_PREFIX.sub("", answer, count=1)) or []
        return [name for name in detected if name not in removed]
    if ADD_PREFIX.match(answer):
        added = answer_record_names(ADD_PREFIX.sub("", answer, count=1)) or []
        return list(dict.fromkeys(detected + added))
    listed = answer_record_names(answer)
    return detected if listed is None else listed


def build_entities(reading: Reading, names: list[str], feature_keys: set[str]) -> list[Entity]:
    """Entities for ``names``: known defaults plus the text's fields, references for the
    relations between them, Team/User for the features, parents before children."""
    names = list(dict.fromkeys(names + _feature_entities(feature_keys)))
    relations = [r for r in reading.relations if r.child in names and r.parent in names]
    entities = {
        name: _entity(name, reading.fields.get(name, []), relations, set(names)) for name in names
    }
    return parents_first(_unique_tables([entities[name] for name in names]))


def _unique_tables(entities: list[Entity]) -> list[Entity]:
    """Drop a later entity whose table an earlier one already uses (``Person``/``People``)."""
    seen: set[str] = set()
    result = []
    for entity in entities:
        if entity.table not in seen:
            seen.add(entity.table)
            result.append(entity)
    return result


def _feature_entities(feature_keys: set[str]) -> list[str]:
    extra = []
    if TEAMS in feature_keys:
        extra.append("Team")
    if AUTHENTICATION in feature_keys:
        extra.append("User")
    return extra


def _entity(
    name: str, text_fields: list[Field], relations: list[Relation], names: set[str]
) -> Entity:
    known = KNOWN_BY_NAME.get(name)
    base = list(known.fields) if known else []
    stated = {field.name for field in text_fields}
    if not known and not stated & set(IDENTITY_FIELDS):
        base = list(fields(*CUSTOM_ENTITY_FIELDS))
    merged = _merge(base, text_fields, identity=not known)
    merged = [_known_reference(field, names) for field in merged]
    for relation in relations:
        if relation.child == name:
            merged = _merge(merged, [_reference(relation)], identity=False)
    return Entity(name, tuple(merged))


def _merge(base: list[Field], extra: list[Field], *, identity: bool) -> list[Field]:
    """``base`` with ``extra`` fields added; a same-named field is replaced by the extra one
    (it carries the text's rules). The text's name/title of a new record is required."""
    result = list(base)
    for extra_field in extra:
        field = extra_field
        if identity and field.name in IDENTITY_FIELDS and field.type == "string":
            field = Field(field.name, "string", True, field.format, field.choices)
        names = [existing.name for existing in result]
        if field.name in names:
            result[names.index(field.name)] = field
        else:
            result.append(field)
    return result


def _reference(relation: Relation) -> Field:
    return Field(
        snake_case([*words_of(relation.parent), "id"]),
        "integer",
        relation.required,
        references=relation.parent,
        on_delete=relation.on_delete,
    )


def _known_reference(field: Field, names: set[str]) -> Field:
    """A known record's ``customer_id`` becomes a reference when Customer is in the model."""
    if field.type != "integer" or field.references or not field.name.endswith("_id"):
        return field
    parent = camel_case(words_of(field.name)[:-1])
    if parent not in names:
        return field
    return Field(field.name, "integer", field.required, references=parent, on_delete="restrict")
