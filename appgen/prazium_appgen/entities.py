"""The data model the template agent builds an app for: entities with typed fields.

An :class:`Entity` knows every name derived from it (table, module, URL path),
so the spec writer, decomposer and code generator cannot disagree about them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from prazium_appgen.naming import (
    camel_case,
    kebab_case,
    plural_words,
    snake_case,
    words_of,
)

FIELD_TYPES = ("string", "integer", "number", "boolean")
"""JSON-level field types; booleans are stored as SQLite integers, numbers as REAL."""

FIELD_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_FIELDS = frozenset({"id"})
"""Assigned by the server; a DATA.md row with one of these names is ignored."""


FIELD_FORMATS = ("date", "datetime", "time", "email")
"""String formats the generated app validates (ISO 8601 dates and times, email addresses)."""
ON_DELETE_RULES = ("restrict", "cascade")
"""Deleting a parent with children: ``restrict`` refuses (409), ``cascade`` deletes them too."""


@dataclass(frozen=True)
class Field:
    """A typed field; the optional rules are enforced by the generated app.

    ``references`` names the parent entity of an integer id field; ``choices``
    closes a string field to a set of values; ``minimum`` bounds a number.
    """

    name: str
    type: str
    required: bool = False
    format: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    references: str = ""
    on_delete: str = ""

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")
        if not FIELD_NAME_PATTERN.match(self.name) or self.name in RESERVED_FIELDS:
            raise ValueError(f"invalid field name {self.name!r}")
        if self.format and (self.format not in FIELD_FORMATS or self.type != "string"):
            raise ValueError(f"field {self.name!r}: format {self.format!r} needs a string field")
        if self.choices and self.type != "string":
            raise ValueError(f"field {self.name!r}: choices need a string field")
        if self.minimum is not None and self.type not in ("integer", "number"):
            raise ValueError(f"field {self.name!r}: a minimum needs a numeric field")
        if self.references and self.type != "integer":
            raise ValueError(f"field {self.name!r}: a reference must be an integer id")
        if self.on_delete and (self.on_delete not in ON_DELETE_RULES or not self.references):
            raise ValueError(f"field {self.name!r}: invalid on_delete {self.on_delete!r}")

    def as_json(self) -> dict[str, object]:
        """The field as the generated app's model.json holds it (empty rules left out)."""
        data: dict[str, object] = {"name": self.name, "type": self.type, "required": self.required}
        if self.format:
            data["format"] = self.format
        if self.choices:
            data["choices"] = list(self.choices)
        if self.minimum is not None:
            data["minimum"] = self.minimum
        if self.references:
            data["references"] = self.references
            data["on_delete"] = self.on_delete or "restrict"
        return data


@dataclass(frozen=True)
class Entity:
    """A record type with a CamelCase ASCII ``name`` and at least one field."""

    name: str
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", self.name):
            raise ValueError(f"entity name must be CamelCase ASCII: {self.name!r}")
        if not self.fields:
            raise ValueError(f"entity {self.name} has no fields")

    @property
    def words(self) -> list[str]:
        return words_of(self.name)

    @property
    def table(self) -> str:
        """SQLite table and Python module name, e.g. ``time_entries``."""
        return snake_case(plural_words(self.words))

    @property
    def module(self) -> str:
        return self.table

    @property
    def url_segment(self) -> str:
        """Plural kebab-case, e.g. ``time-entries``; also used in task slugs."""
        return kebab_case(plural_words(self.words))

    @property
    def collection_path(self) -> str:
        return f"/api/{self.url_segment}"

    @property
    def item_path(self) -> str:
        return f"/api/{self.url_segment}/{{id}}"

    @property
    def label(self) -> str:
        """Human wording, e.g. ``time entry``."""
        return " ".join(self.words)

    @property
    def plural_label(self) -> str:
        return " ".join(plural_words(self.words))

    @property
    def required_fields(self) -> list[Field]:
        return [field for field in self.fields if field.required]

    @property
    def references(self) -> list[Field]:
        return [field for field in self.fields if field.references]


def entity_name(text: str) -> str:
    """CamelCase entity name for free text (``time entry`` -> ``TimeEntry``); '' if no words."""
    return camel_case(words_of(text))


def fields(*specs: str) -> tuple[Field, ...]:
    """Compact field declarations: ``"title:string!"`` (``!`` = required), ``"done:boolean"``."""
    result = []
    for spec in specs:
        name, _, type_spec = spec.partition(":")
        required = type_spec.endswith("!")
        result.append(Field(name, type_spec.rstrip("!"), required))
    return tuple(result)


def parents_first(entities: list[Entity]) -> list[Entity]:
    """Stable order in which every referenced entity comes before the entities referring to it."""
    by_name = {entity.name: entity for entity in entities}
    ordered: list[Entity] = []
    placed: set[str] = set()

    def place(entity: Entity, visiting: frozenset[str]) -> None:
        if entity.name in placed or entity.name in visiting:
            return
        for field in entity.references:
            parent = by_name.get(field.references)
            if parent is not None:
                place(parent, visiting | {entity.name})
        placed.add(entity.name)
        ordered.append(entity)

    for entity in entities:
        place(entity, frozenset())
    return ordered


FALLBACK_ENTITY = Entity("Item", fields("name:string!"))
"""Used when neither the description nor DATA.md names any entity."""
