"""HTTP tests for every route of one resource, including error cases."""

from __future__ import annotations

from app.model import ENTITIES
from app.routing import JsonObject
from tests import records
from tests.harness import ServerTestCase

# generated: begin
ENTITY_NAME = "Example"
COLLECTION = "/api/examples"
VALID: JsonObject = {"name": "Sample name"}
CHANGED: JsonObject = {"name": "Updated name"}
WRONG_TYPE: JsonObject = {"name": 12345}
REQUIRED: list[str] = ["name"]
# generated: end
MISSING_ID = 999999
ENTITY = ENTITIES[ENTITY_NAME]


# generated: class
class ExampleApiTest(ServerTestCase):
    ENTITY_NAME = ENTITY_NAME

    def create(self) -> JsonObject:
        return records.create(self, ENTITY, VALID)

    def valid(self) -> JsonObject:
        """A complete payload whose references point at newly created parents."""
        return records.payload_with_parents(self, ENTITY, VALID)

    def test_create_returns_stored_record(self) -> None:
        record = self.create()
        self.assertIsInstance(record["id"], int)
        for name, value in VALID.items():
            self.assertEqual(record[name], value, name)

    def test_create_rejects_missing_required_fields(self) -> None:
        for name in REQUIRED:
            payload = {key: value for key, value in self.valid().items() if key != name}
            status, body = self.request("POST", COLLECTION, payload)
            self.assertEqual(status, 400, name)
            self.assertIn(name, body["error"]["fields"])

    def test_create_rejects_wrong_type(self) -> None:
        status, body = self.request("POST", COLLECTION, {**self.valid(), **WRONG_TYPE})
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "validation_failed")
        self.assertEqual(sorted(body["error"]["fields"]), sorted(WRONG_TYPE))

    def test_create_rejects_unknown_field(self) -> None:
        status, body = self.request("POST", COLLECTION, {**self.valid(), "not_a_field": 1})
        self.assertEqual(status, 400)
        self.assertIn("not_a_field", body["error"]["fields"])

    def test_create_rejects_invalid_json(self) -> None:
        status, body = self.request("POST", COLLECTION, raw=b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "invalid_json")

    def test_list_returns_created_records_in_order(self) -> None:
        first, second = self.create(), self.create()
        status, body = self.request("GET", COLLECTION + "?limit=1000")
        self.assertEqual(status, 200)
        ids = [item["id"] for item in body["items"]]
        self.assertLess(ids.index(first["id"]), ids.index(second["id"]))

    def test_list_honours_limit_and_offset(self) -> None:
        for _ in range(3):
            self.create()
        _, everything = self.request("GET", COLLECTION + "?limit=1000")
        status, body = self.request("GET", COLLECTION + "?limit=1&offset=1")
        self.assertEqual(status, 200)
        self.assertEqual(body["items"], everything["items"][1:2])

    def test_list_rejects_bad_paging(self) -> None:
        for query in ("?limit=abc", "?limit=0", "?offset=-1"):
            status, _ = self.request("GET", COLLECTION + query)
            self.assertEqual(status, 400, query)

    def test_get_returns_record(self) -> None:
        record = self.create()
        status, body = self.request("GET", f"{COLLECTION}/{record['id']}")
        self.assertEqual(status, 200)
        self.assertEqual(body, record)

    def test_get_unknown_returns_404(self) -> None:
        for record_id in (MISSING_ID, "abc"):
            status, body = self.request("GET", f"{COLLECTION}/{record_id}")
            self.assertEqual(status, 404)
            self.assertEqual(body["error"]["code"], "not_found")

    def test_update_changes_given_fields_only(self) -> None:
        record = self.create()
        status, body = self.request("PUT", f"{COLLECTION}/{record['id']}", CHANGED)
        self.assertEqual(status, 200)
        self.assertEqual(body, {**record, **CHANGED})
        _, stored = self.request("GET", f"{COLLECTION}/{record['id']}")
        self.assertEqual(stored, body)

    def test_update_rejects_wrong_type(self) -> None:
        record = self.create()
        status, _ = self.request("PUT", f"{COLLECTION}/{record['id']}", WRONG_TYPE)
        self.assertEqual(status, 400)

    def test_update_unknown_returns_404(self) -> None:
        status, _ = self.request("PUT", f"{COLLECTION}/{MISSING_ID}", CHANGED)
        self.assertEqual(status, 404)

    def test_delete_removes_record(self) -> None:
        record = self.create()
        status, body = self.request("DELETE", f"{COLLECTION}/{record['id']}")
        self.assertEqual((status, body), (204, None))
        status, _ = self.request("GET", f"{COLLECTION}/{record['id']}")
        self.assertEqual(status, 404)

    def test_delete_unknown_returns_404(self) -> None:
        status, _ = self.request("DELETE", f"{COLLECTION}/{MISSING_ID}")
        self.assertEqual(status, 404)
