"""Entity definitions, read from model.json (generated from DATA.md).

Field types are JSON types. SQLite has no boolean, so booleans are stored as
0/1 integers and converted back by app.model.validation.from_row. A field may
carry rules: a ``format`` (date, datetime, time, email), a closed set of
``choices``, a ``minimum``, or a reference to another entity (``references``)
with what happens to children when their parent is deleted (``on_delete``:
``restrict`` refuses the delete, ``cascade`` deletes the children too).
"""

from __future__ import annotations

import json
import pathlib
from dataclasses import dataclass
from typing import NotRequired, TypedDict

SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "number": "REAL", "boolean": "INTEGER"}
MODEL_FILE = pathlib.Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    format: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    references: str = ""
    on_delete: str = ""


class FieldDocument(TypedDict):
    """A field as model.json writes it; absent rules take the defaults of :class:`Field`."""

    name: str
    type: str
    required: NotRequired[bool]
    format: NotRequired[str]
    choices: NotRequired[list[str]]
    minimum: NotRequired[float | None]
    references: NotRequired[str]
    on_delete: NotRequired[str]


@dataclass(frozen=True)
class Entity:
    name: str
    table: str
    path: str
    fields: tuple[Field, ...]

    def columns(self) -> dict[str, str]:
        return {field.name: SQL_TYPES[field.type] for field in self.fields}

    def references(self) -> list[Field]:
        """Fields holding the id of a parent record."""
        return [field for field in self.fields if field.references]


def _field(data: FieldDocument) -> Field:
    return Field(
        name=data["name"],
        type=data["type"],
        required=bool(data.get("required", False)),
        format=data.get("format", ""),
        choices=tuple(data.get("choices", ())),
        minimum=data.get("minimum"),
        references=data.get("references", ""),
        on_delete=data.get("on_delete", ""),
    )


def _load() -> tuple[dict[str, Entity], list[str]]:
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    entities = {
        item["name"]: Entity(
            name=item["name"],
            table=item["table"],
            path=item["path"],
            fields=tuple(_field(field) for field in item["fields"]),
        )
        for item in data["entities"]
    }
    return entities, list(data["resource_modules"])


ENTITIES, RESOURCE_MODULES = _load()
"""Every entity by name, and the resource modules the finished app loads."""


def entity_of_module(module_name: str) -> Entity:
    """The entity a resource module serves: the module is named after the entity's table."""
    table = module_name.rsplit(".", 1)[-1]
    for entity in ENTITIES.values():
        if entity.table == table:
            return entity
    raise LookupError(f"no entity is stored in table {table!r}")


def children_of(parent: Entity) -> list[tuple[Entity, Field]]:
    """(child entity, reference field) for every field that points at ``parent``."""
    return [
        (entity, field)
        for entity in ENTITIES.values()
        for field in entity.references()
        if field.references == parent.name
    ]
