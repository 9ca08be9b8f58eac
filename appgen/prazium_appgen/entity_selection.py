"""The entities of a spec: records, their fields and links, shaped by the answers.

Records come from the description's own words (:mod:`reader`); the vocabulary
only supplies good default fields for records it knows, and :mod:`links` the
links between them. :class:`DataChoices` carries what the clarifying answers
decided about the data (links refused, required fields, closed sets, the
currency). This runs only while writing the spec; afterwards DATA.md is the
single source of truth (the decomposer and coder parse it), so a user who edits
DATA.md by hand or supplies it through GitOps gets exactly the entities written
there.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace

from prazium_appgen.entities import FALLBACK_ENTITY, Entity, Field, fields, parents_first
from prazium_appgen.features import AUTHENTICATION, TEAMS
from prazium_appgen.links import Link, is_transaction, record_links
from prazium_appgen.naming import snake_case, words_of
from prazium_appgen.reader import Reading
from prazium_appgen.vocabulary import KNOWN_BY_NAME

# Fields for an entity the vocabulary does not know: enough for a useful CRUD resource.
CUSTOM_ENTITY_FIELDS = ("name:string!", "description:string")
# A record of something happening (a visit, a loan) that the text gives fields is named
# by those fields and its links, not by a name someone must make up.
EVENT_ENTITY_FIELDS = ("notes:string",)
IDENTITY_FIELDS = ("name", "title")


@dataclass(frozen=True)
class DataChoices:
    """What the answers decided about the data beyond which records there are."""

    refused_links: frozenset[tuple[str, str]] = frozenset()
    """(child, parent) pairs answered no; refused in either direction."""
    required: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Entity -> the names of its fields that must be filled in (the others need not)."""
    values: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    """(entity, field) -> the field's closed set of values; ``()`` leaves it free text."""
    currency: str = ""
    """ISO code of every money amount, or '' for plain amounts."""


NO_CHOICES = DataChoices()


def feature_entities(feature_keys: Collection[str]) -> list[str]:
    extra = []
    if TEAMS in feature_keys:
        extra.append("Team")
    if AUTHENTICATION in feature_keys:
        extra.append("User")
    return extra


def build_entities(
    reading: Reading,
    names: list[str],
    choices: DataChoices = NO_CHOICES,
) -> list[Entity]:
    """Entities for ``names``, parents first (never empty), linked by :mod:`links`."""
    names = list(dict.fromkeys(names))
    links = record_links(reading.relations, names, choices.refused_links)
    entities = [
        _apply_choices(_entity(name, reading.fields.get(name, []), links), choices)
        for name in names
    ]
    return parents_first(_unique_tables(entities)) or [FALLBACK_ENTITY]


def _unique_tables(entities: list[Entity]) -> list[Entity]:
    """Drop a later entity whose table an earlier one already uses (``Person``/``People``)."""
    seen: set[str] = set()
    result = []
    for entity in entities:
        if entity.table not in seen:
            seen.add(entity.table)
            result.append(entity)
    return result


def _entity(name: str, text_fields: list[Field], links: list[Link]) -> Entity:
    known = KNOWN_BY_NAME.get(name)
    # A known record's <parent>_id fields are links (record_links made them references
    # where the parent is in the model); without the parent they would be bare numbers.
    base = [
        f
        for f in (known.fields if known else ())
        if not (f.type == "integer" and f.name.endswith("_id"))
    ]
    stated = {field.name for field in text_fields}
    last: list[Field] = []
    if not known and not stated & set(IDENTITY_FIELDS):
        if is_transaction(name) and any(f.type != "boolean" for f in text_fields):
            base, last = [], list(fields(*EVENT_ENTITY_FIELDS))  # notes after the facts
        else:
            base = list(fields(*CUSTOM_ENTITY_FIELDS))
    merged = _merge(base, text_fields, identity=not known)
    merged += [f for f in last if f.name not in {m.name for m in merged}]
    references = [_reference(link) for link in links if link.child == name]
    merged = [f for f in merged if f.name not in {r.name for r in references}]
    return Entity(name, tuple(merged + references))


def _merge(base: list[Field], extra: list[Field], *, identity: bool) -> list[Field]:
    """``base`` with ``extra`` fields added; a same-named field is replaced by the extra one
    (it carries the text's rules) and stays required if either is. The text's name/title
    of a new record is required."""
    result = list(base)
    for extra_field in extra:
        new = extra_field
        if identity and new.name in IDENTITY_FIELDS and new.type == "string":
            new = replace(new, required=True)
        names = [existing.name for existing in result]
        if new.name in names:
            index = names.index(new.name)
            result[index] = replace(new, required=new.required or result[index].required)
        else:
            result.append(new)
    return result


def _reference(link: Link) -> Field:
    return Field(
        snake_case([*words_of(link.parent), "id"]),
        "integer",
        link.required,
        references=link.parent,
        on_delete=link.on_delete,
    )


def _apply_choices(entity: Entity, choices: DataChoices) -> Entity:
    required = choices.required.get(entity.name)
    result = []
    for item in entity.fields:
        new = item
        if required is not None and item.type != "boolean":
            new = replace(new, required=item.name in required)
        values = choices.values.get((entity.name, item.name))
        if values is not None and item.type == "string" and not item.format:
            new = replace(new, choices=values)
        if choices.currency and item.format == "money":
            new = replace(new, currency=choices.currency)
        result.append(new)
    return Entity(entity.name, tuple(result))
