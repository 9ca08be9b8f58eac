"""Sample records for the tests, built from the schema so they satisfy every field rule.

Records whose entity references a parent get a real parent created first over
HTTP, so the tests exercise the same integrity checks as any client.
"""

from __future__ import annotations

from typing import Any

from app.model import ENTITIES, Entity, Field
from app.routing import JsonObject
from tests.harness import ServerTestCase

SAMPLES: JsonObject = {"string": "text", "integer": 2, "number": 1.5, "boolean": True}
FORMAT_SAMPLES = {
    "date": "2024-05-17",
    "datetime": "2024-05-17T09:30:00",
    "time": "09:30",
    "email": "someone@example.com",
}
MISSING_ID = 999999


def sample_value(field: Field) -> Any:
    """A valid value for the field (references get id 1; create() replaces them)."""
    if field.choices:
        return field.choices[0]
    if field.format in FORMAT_SAMPLES:
        return FORMAT_SAMPLES[field.format]
    if field.references:
        return 1
    value = SAMPLES[field.type]
    if field.minimum is not None and isinstance(value, int | float) and value < field.minimum:
        value = int(field.minimum) if field.type == "integer" else float(field.minimum)
    return value


def sample(entity: Entity) -> JsonObject:
    return {field.name: sample_value(field) for field in entity.fields}


def payload_with_parents(
    case: ServerTestCase, entity: Entity, values: JsonObject | None = None
) -> JsonObject:
    """``values`` completed with samples, each reference pointing at a newly created parent."""
    payload = {**sample(entity), **(values or {})}
    for field in entity.references():
        parent = ENTITIES.get(field.references)
        if parent is not None and parent.name != entity.name and field.name not in (values or {}):
            payload[field.name] = create(case, parent)["id"]
    return payload


def create(case: ServerTestCase, entity: Entity, values: JsonObject | None = None) -> JsonObject:
    """POST a complete record (parents created as needed); asserts 201 and returns it."""
    status, body = case.request("POST", entity.path, payload_with_parents(case, entity, values))
    case.assertEqual(status, 201, body)
    record: JsonObject = body
    return record


class RelationChecks(ServerTestCase):
    """Tests for an entity with references, inherited by that entity's test class.

    Test modules refer to it as ``records.RelationChecks``: a test case class
    imported by name would be collected (and run) on its own.
    """

    ENTITY_NAME = ""

    @property
    def entity(self) -> Entity:
        return ENTITIES[self.ENTITY_NAME]

    def test_create_and_update_reject_missing_parent(self) -> None:
        record = create(self, self.entity)
        for field in self.entity.references():
            with self.subTest(field=field.name):
                payload = payload_with_parents(self, self.entity, {field.name: MISSING_ID})
                status, body = self.request("POST", self.entity.path, payload)
                self.assertEqual(status, 400, body)
                self.assertIn(field.name, body["error"]["fields"])
                item = f"{self.entity.path}/{record['id']}"
                status, body = self.request("PUT", item, {field.name: MISSING_ID})
                self.assertEqual(status, 400, body)
                self.assertEqual(self.request("GET", item), (200, record))

    def test_list_filters_by_parent(self) -> None:
        first, second = create(self, self.entity), create(self, self.entity)
        for field in self.entity.references():
            with self.subTest(field=field.name):
                query = f"?{field.name}={first[field.name]}&limit=1000"
                status, body = self.request("GET", self.entity.path + query)
                self.assertEqual(status, 200, body)
                self.assertIn(first, body["items"])
                self.assertNotIn(second, body["items"])
                parents = {item[field.name] for item in body["items"]}
                self.assertEqual(parents, {first[field.name]})
                status, _ = self.request("GET", f"{self.entity.path}?{field.name}=abc")
                self.assertEqual(status, 400)

    def test_nested_list_shows_one_parents_records(self) -> None:
        first, second = create(self, self.entity), create(self, self.entity)
        segment = self.entity.path.rsplit("/", 1)[-1]
        for field in self.entity.references():
            parent = ENTITIES[field.references]
            with self.subTest(field=field.name):
                nested = f"{parent.path}/{first[field.name]}/{segment}?limit=1000"
                status, body = self.request("GET", nested)
                self.assertEqual(status, 200, body)
                self.assertIn(first, body["items"])
                self.assertNotIn(second, body["items"])
                status, body = self.request("GET", f"{parent.path}/{MISSING_ID}/{segment}")
                self.assertEqual(status, 404, body)

    def test_deleting_a_parent_follows_the_reference_rule(self) -> None:
        for field in self.entity.references():
            parent = ENTITIES[field.references]
            with self.subTest(field=field.name, on_delete=field.on_delete or "restrict"):
                child = create(self, self.entity)
                child_path = f"{self.entity.path}/{child['id']}"
                parent_path = f"{parent.path}/{child[field.name]}"
                status, body = self.request("DELETE", parent_path)
                if field.on_delete == "cascade":
                    self.assertEqual(status, 204, body)
                    self.assertEqual(self.request("GET", child_path)[0], 404)
                else:
                    self.assertEqual(status, 409, body)
                    self.assertEqual(body["error"]["code"], "has_children")
                    self.assertEqual(self.request("GET", child_path), (200, child))
                    self.assertEqual(self.request("DELETE", child_path)[0], 204)
                    self.assertEqual(self.request("DELETE", parent_path)[0], 204)
                self.assertEqual(self.request("GET", parent_path)[0], 404)
