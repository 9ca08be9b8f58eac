"""Validation rules, checked for every entity and field in the schema."""

from __future__ import annotations

import unittest
from typing import Any

from app.model import ENTITIES, Field, ValidationError, from_row, to_row, validate
from app.routing import JsonObject
from tests.records import sample

WRONG: JsonObject = {"string": 5, "integer": "2", "number": "1.5", "boolean": 1}


def bad_values(field: Field) -> list[Any]:
    """Values the field must refuse: the wrong type, and whatever breaks its rules."""
    values = [WRONG[field.type]]
    if field.choices:
        values.append("not one of the choices")
    if field.format:
        values.append("not a valid " + field.format)
    if field.minimum is not None:
        values.append(field.minimum - 1)
    if field.references:
        values.append(0)
    return values


class ValidationTest(unittest.TestCase):
    def test_schema_is_not_empty(self) -> None:
        self.assertTrue(ENTITIES)
        for entity in ENTITIES.values():
            self.assertTrue(entity.fields, entity.name)
            self.assertTrue(entity.path.startswith("/api/"), entity.name)
            for field in entity.references():
                self.assertIn(field.references, ENTITIES, field.name)

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

    def test_wrong_types_and_broken_rules_are_reported(self) -> None:
        for entity in ENTITIES.values():
            for field in entity.fields:
                for value in bad_values(field):
                    with self.subTest(entity=entity.name, field=field.name, value=value):
                        payload = {**sample(entity), field.name: value}
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
