"""Generated-app sources owned by one resource task: an entity's handlers and HTTP tests."""

from __future__ import annotations

from string import Template
from typing import Any

from prazium_operator.agents.template.appgen.pyliteral import block_literal, literal
from prazium_operator.agents.template.entities import Entity, Field

_RESOURCE_PY = Template('''\
"""$title records over HTTP: list, create, read, update and delete at $collection."""

from __future__ import annotations

from typing import Any

from app.model import ENTITIES, ValidationError, from_row, to_row, validate
from app.routing import HttpError, Request, Response, Router
from app.storage import Database

ENTITY = ENTITIES[$name]
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def register(router: Router, database: Database) -> None:
    """Create the $table table if needed and add the five CRUD routes."""
    database.ensure_table(ENTITY.table, ENTITY.columns())

    def list_records(request: Request) -> Response:
        limit, offset = page(request.query)
        rows = database.list(ENTITY.table, limit, offset)
        items = [from_row(ENTITY, row) for row in rows]
        return Response(200, {"items": items, "limit": limit, "offset": offset})

    def create_record(request: Request) -> Response:
        values = validated(request.body, partial=False)
        row = database.insert(ENTITY.table, to_row(ENTITY, values))
        return Response(201, from_row(ENTITY, row))

    def get_record(request: Request) -> Response:
        record_id = path_id(request)
        row = database.get(ENTITY.table, record_id)
        if row is None:
            raise not_found(record_id)
        return Response(200, from_row(ENTITY, row))

    def update_record(request: Request) -> Response:
        record_id = path_id(request)
        values = validated(request.body, partial=True)
        row = database.update(ENTITY.table, record_id, to_row(ENTITY, values))
        if row is None:
            raise not_found(record_id)
        return Response(200, from_row(ENTITY, row))

    def delete_record(request: Request) -> Response:
        record_id = path_id(request)
        if not database.delete(ENTITY.table, record_id):
            raise not_found(record_id)
        return Response(204)

    router.add("GET", ENTITY.path, list_records)
    router.add("POST", ENTITY.path, create_record)
    router.add("GET", ENTITY.path + "/{id}", get_record)
    router.add("PUT", ENTITY.path + "/{id}", update_record)
    router.add("DELETE", ENTITY.path + "/{id}", delete_record)


def validated(body: Any, *, partial: bool) -> dict[str, Any]:
    try:
        return validate(ENTITY, body, partial=partial)
    except ValidationError as error:
        raise HttpError(400, "validation_failed", f"invalid {ENTITY.name}", error.fields) from error


def path_id(request: Request) -> int:
    raw = request.params["id"]
    if not raw.isdigit():
        raise not_found(raw)
    return int(raw)


def not_found(record_id: object) -> HttpError:
    return HttpError(404, "not_found", f"{ENTITY.name} {record_id} not found")


def page(query: dict[str, str]) -> tuple[int, int]:
    """limit/offset from the query string; 400 when they are not in range."""
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
        offset = int(query.get("offset", 0))
    except ValueError as error:
        raise HttpError(400, "invalid_query", "limit and offset must be integers") from error
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise HttpError(400, "invalid_query", f"limit must be 1..{MAX_LIMIT}, offset >= 0")
    return limit, offset
''')

_RESOURCE_TEST_PY = Template('''\
"""HTTP tests for every $title route at $collection, including error cases."""

from __future__ import annotations

from typing import Any

from tests.harness import ServerTestCase

COLLECTION = $collection_literal
VALID: dict[str, Any] = $valid
CHANGED: dict[str, Any] = $changed
WRONG_TYPE: dict[str, Any] = $wrong
REQUIRED: list[str] = $required
MISSING_ID = 999999


class ${class_name}ApiTest(ServerTestCase):
    def create(self) -> dict[str, Any]:
        status, body = self.request("POST", COLLECTION, VALID)
        self.assertEqual(status, 201, body)
        record: dict[str, Any] = body
        return record

    def test_create_returns_stored_record(self) -> None:
        record = self.create()
        self.assertIsInstance(record["id"], int)
        for name, value in VALID.items():
            self.assertEqual(record[name], value, name)

    def test_create_rejects_missing_required_fields(self) -> None:
        for name in REQUIRED:
            payload = {key: value for key, value in VALID.items() if key != name}
            status, body = self.request("POST", COLLECTION, payload)
            self.assertEqual(status, 400, name)
            self.assertIn(name, body["error"]["fields"])

    def test_create_rejects_wrong_type(self) -> None:
        status, body = self.request("POST", COLLECTION, {**VALID, **WRONG_TYPE})
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "validation_failed")
        self.assertEqual(sorted(body["error"]["fields"]), sorted(WRONG_TYPE))

    def test_create_rejects_unknown_field(self) -> None:
        status, body = self.request("POST", COLLECTION, {**VALID, "not_a_field": 1})
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
''')


def render_resource_py(entity: Entity) -> str:
    return _RESOURCE_PY.substitute(
        title=entity.name,
        collection=entity.collection_path,
        name=literal(entity.name),
        table=entity.table,
    )


def sample_value(field: Field) -> Any:
    """A plausible valid value, recognisable in test output."""
    if field.type == "boolean":
        return True
    if field.type == "integer":
        return 3
    if field.type == "number":
        return 2.5
    if "email" in field.name:
        return "someone@example.com"
    return "Sample " + field.name.replace("_", " ")


def changed_value(field: Field) -> Any:
    if field.type == "boolean":
        return False
    if field.type == "integer":
        return 7
    if field.type == "number":
        return 9.75
    return "Updated " + field.name.replace("_", " ")


def wrong_value(field: Field) -> Any:
    return {"string": 12345, "integer": "three", "number": "2.5", "boolean": "yes"}[field.type]


def render_resource_test_py(entity: Entity) -> str:
    first = entity.fields[0]
    return _RESOURCE_TEST_PY.substitute(
        title=entity.name,
        collection=entity.collection_path,
        collection_literal=literal(entity.collection_path),
        valid=block_literal({field.name: sample_value(field) for field in entity.fields}),
        changed=literal({first.name: changed_value(first)}),
        wrong=literal({first.name: wrong_value(first)}),
        required=literal([field.name for field in entity.required_fields]),
        class_name=entity.name,
    )
