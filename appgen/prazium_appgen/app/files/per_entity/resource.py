"""Records of one entity over HTTP: list, create, read, update and delete.

Every resource module is this same file, named after its entity's table
(``app/resources/pets.py`` serves the ``Pet`` entity of app/model/model.json),
so adding a resource means adding one file and no shared route table changes.
"""

from __future__ import annotations

from typing import Any

from app.model import (
    ENTITIES,
    ValidationError,
    delete_with_children,
    ensure_tables,
    entity_of_module,
    from_row,
    missing_parents,
    to_row,
    validate,
)
from app.model.relations import DeleteRefused
from app.routing import Handler, HttpError, Request, Response, Router
from app.storage import Database, Row

ENTITY = entity_of_module(__name__)
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def register(router: Router, database: Database) -> None:
    """Create the entity's table (and related ones) if needed and add the five CRUD routes."""
    ensure_tables(database, ENTITY)

    def list_records(request: Request) -> Response:
        limit, offset = page(request.query)
        rows = database.list(ENTITY.table, limit, offset, parent_filters(request.query))
        items = [from_row(ENTITY, row) for row in rows]
        return Response(200, {"items": items, "limit": limit, "offset": offset})

    def create_record(request: Request) -> Response:
        values = validated(request.body, partial=False)
        require_parents(database, values)
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
        if database.get(ENTITY.table, record_id) is None:
            raise not_found(record_id)
        require_parents(database, values)
        row = database.update(ENTITY.table, record_id, to_row(ENTITY, values))
        if row is None:
            raise not_found(record_id)
        return Response(200, from_row(ENTITY, row))

    def delete_record(request: Request) -> Response:
        record_id = path_id(request)
        if database.get(ENTITY.table, record_id) is None:
            raise not_found(record_id)
        try:
            delete_with_children(database, ENTITY, record_id)
        except DeleteRefused as refused:
            raise HttpError(
                409,
                "has_children",
                f"{ENTITY.name} {record_id} still has {refused.count} "
                f"{refused.child.name} record(s); delete them first",
            ) from refused
        return Response(204)

    router.add("GET", ENTITY.path, list_records)
    router.add("POST", ENTITY.path, create_record)
    router.add("GET", ENTITY.path + "/{id}", get_record)
    router.add("PUT", ENTITY.path + "/{id}", update_record)
    router.add("DELETE", ENTITY.path + "/{id}", delete_record)
    register_nested_lists(router, database)


def register_nested_lists(router: Router, database: Database) -> None:
    """GET /api/<parents>/{id}/<these> for each record this one refers to."""
    for field in ENTITY.references():
        parent = ENTITIES.get(field.references)
        if parent is not None:
            nested = f"{parent.path}/{{id}}/{ENTITY.path.rsplit('/', 1)[-1]}"
            router.add("GET", nested, children_lister(database, parent.table, field.name))


def children_lister(database: Database, parent_table: str, field_name: str) -> Handler:
    """GET /api/<parents>/{id}/<children>: one parent's records; 404 for an unknown parent."""

    def list_children(request: Request) -> Response:
        parent_id = path_id(request)
        if database.get(parent_table, parent_id) is None:
            raise HttpError(404, "not_found", f"{parent_table} {parent_id} not found")
        limit, offset = page(request.query)
        rows = database.list(ENTITY.table, limit, offset, {field_name: parent_id})
        items = [from_row(ENTITY, row) for row in rows]
        return Response(200, {"items": items, "limit": limit, "offset": offset})

    return list_children


def validated(body: Any, *, partial: bool) -> Row:
    try:
        return validate(ENTITY, body, partial=partial)
    except ValidationError as error:
        raise HttpError(400, "validation_failed", f"invalid {ENTITY.name}", error.fields) from error


def require_parents(database: Database, values: Row) -> None:
    """400 naming each reference field whose parent record does not exist."""
    errors = missing_parents(database, ENTITY, values)
    if errors:
        raise HttpError(400, "validation_failed", f"invalid {ENTITY.name}", errors)


def path_id(request: Request) -> int:
    raw = request.params["id"]
    if not raw.isdigit():
        raise not_found(raw)
    return int(raw)


def not_found(record_id: object) -> HttpError:
    return HttpError(404, "not_found", f"{ENTITY.name} {record_id} not found")


def parent_filters(query: dict[str, str]) -> dict[str, int]:
    """``?pet_id=3`` keeps the records of that parent; 400 for a non-integer id."""
    filters = {}
    for field in ENTITY.references():
        raw = query.get(field.name)
        if raw is None:
            continue
        if not raw.isdigit():
            raise HttpError(400, "invalid_query", f"{field.name} must be an integer id")
        filters[field.name] = int(raw)
    return filters


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
