"""Generated-app sources owned by the data-model task: schema and validation."""

from __future__ import annotations

from prazium_operator.agents.template.appgen.pyliteral import literal
from prazium_operator.agents.template.entities import Entity

MODEL_INIT_PY = '''"""The data model: entity definitions (from DATA.md) and payload validation."""

from app.model.schema import ENTITIES, Entity, Field
from app.model.validation import ValidationError, from_row, to_row, validate

__all__ = ["ENTITIES", "Entity", "Field", "ValidationError", "from_row", "to_row", "validate"]
'''

_SCHEMA_HEADER = '''"""Entity definitions, generated from DATA.md.

Field types are JSON types. SQLite has no boolean, so booleans are stored as
0/1 integers and converted back by app.model.validation.from_row.
"""

from __future__ import annotations

from dataclasses import dataclass

SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "number": "REAL", "boolean": "INTEGER"}


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False


@dataclass(frozen=True)
class Entity:
    name: str
    table: str
    path: str
    fields: tuple[Field, ...]

    def columns(self) -> dict[str, str]:
        return {field.name: SQL_TYPES[field.type] for field in self.fields}

'''


def render_schema_py(entities: list[Entity]) -> str:
    lines = [_SCHEMA_HEADER, "ENTITIES: dict[str, Entity] = {"]
    for entity in entities:
        lines += [
            f"    {literal(entity.name)}: Entity(",
            f"        name={literal(entity.name)},",
            f"        table={literal(entity.table)},",
            f"        path={literal(entity.collection_path)},",
            "        fields=(",
        ]
        lines += [
            f"            Field({literal(field.name)}, {literal(field.type)}, "
            f"required={field.required}),"
            for field in entity.fields
        ]
        lines += ["        ),", "    ),"]
    lines.append("}")
    return "\n".join(lines) + "\n"


VALIDATION_PY = '''\
"""Checking request bodies against an entity and converting to and from table rows."""

from __future__ import annotations

import math
from typing import Any

from app.model.schema import Entity, Field

READ_ONLY_FIELDS = frozenset({"id"})
"""Accepted in bodies (clients often send back what they read) but never written."""


class ValidationError(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid fields: " + ", ".join(sorted(fields)))
        self.fields = fields


def type_matches(field: Field, value: Any) -> bool:
    # bool is a subclass of int in Python; JSON true/false must not pass as numbers.
    if field.type == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if field.type == "integer":
        return isinstance(value, int)
    if field.type == "number":
        return isinstance(value, int | float) and math.isfinite(value)
    return isinstance(value, str)


def validate(entity: Entity, payload: Any, *, partial: bool = False) -> dict[str, Any]:
    """The writable fields of ``payload``; ValidationError maps each bad field to a reason.

    ``partial`` (updates) skips the required-field check for absent fields.
    """
    if not isinstance(payload, dict):
        raise ValidationError({"body": "must be a JSON object"})
    known = {field.name for field in entity.fields}
    errors = {
        name: "unknown field"
        for name in sorted(payload)
        if name not in known and name not in READ_ONLY_FIELDS
    }
    clean: dict[str, Any] = {}
    for field in entity.fields:
        if field.name not in payload:
            if field.required and not partial:
                errors[field.name] = "required"
            continue
        value = payload[field.name]
        if value is None:
            if field.required:
                errors[field.name] = "required; must not be null"
            else:
                clean[field.name] = None
        elif not type_matches(field, value):
            errors[field.name] = f"must be of type {field.type}"
        elif field.required and field.type == "string" and not value.strip():
            errors[field.name] = "must not be empty"
        else:
            clean[field.name] = value
    if errors:
        raise ValidationError(errors)
    return clean


def to_row(entity: Entity, values: dict[str, Any]) -> dict[str, Any]:
    types = {field.name: field.type for field in entity.fields}
    return {
        name: int(value) if types.get(name) == "boolean" and value is not None else value
        for name, value in values.items()
    }


def from_row(entity: Entity, row: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {"id": row["id"]}
    for field in entity.fields:
        value = row.get(field.name)
        if value is not None and field.type == "boolean":
            value = bool(value)
        record[field.name] = value
    return record
'''

TEST_MODEL_PY = '''"""Validation rules, checked for every entity in the schema."""

from __future__ import annotations

import unittest
from typing import Any

from app.model import ENTITIES, Entity, ValidationError, from_row, to_row, validate

SAMPLES: dict[str, Any] = {"string": "text", "integer": 2, "number": 1.5, "boolean": True}
WRONG: dict[str, Any] = {"string": 5, "integer": "2", "number": "1.5", "boolean": 1}


def sample(entity: Entity) -> dict[str, Any]:
    return {field.name: SAMPLES[field.type] for field in entity.fields}


class ValidationTest(unittest.TestCase):
    def test_schema_is_not_empty(self) -> None:
        self.assertTrue(ENTITIES)
        for entity in ENTITIES.values():
            self.assertTrue(entity.fields, entity.name)
            self.assertTrue(entity.path.startswith("/api/"), entity.name)

    def test_complete_payload_is_accepted(self) -> None:
        for entity in ENTITIES.values():
            with self.subTest(entity=entity.name):
                self.assertEqual(validate(entity, sample(entity)), sample(entity))

    def test_missing_required_fields_are_reported(self) -> None:
        for entity in ENTITIES.values():
            required = {field.name for field in entity.fields if field.required}
            with self.subTest(entity=entity.name):
                if required:
                    with self.assertRaises(ValidationError) as caught:
                        validate(entity, {})
                    self.assertEqual(set(caught.exception.fields), required)
                self.assertEqual(validate(entity, {}, partial=True), {})

    def test_wrong_types_are_reported(self) -> None:
        for entity in ENTITIES.values():
            for field in entity.fields:
                with self.subTest(entity=entity.name, field=field.name):
                    payload = {**sample(entity), field.name: WRONG[field.type]}
                    with self.assertRaises(ValidationError) as caught:
                        validate(entity, payload)
                    self.assertEqual(list(caught.exception.fields), [field.name])

    def test_unknown_fields_and_non_objects_are_rejected(self) -> None:
        entity = next(iter(ENTITIES.values()))
        with self.assertRaises(ValidationError) as caught:
            validate(entity, {**sample(entity), "no_such_field": 1})
        self.assertIn("no_such_field", caught.exception.fields)
        with self.assertRaises(ValidationError):
            validate(entity, ["not", "an", "object"])

    def test_rows_round_trip(self) -> None:
        for entity in ENTITIES.values():
            with self.subTest(entity=entity.name):
                row = {"id": 7, **to_row(entity, sample(entity))}
                self.assertEqual(from_row(entity, row), {"id": 7, **sample(entity)})


if __name__ == "__main__":
    unittest.main()
'''
