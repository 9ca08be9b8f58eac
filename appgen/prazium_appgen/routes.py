"""The HTTP routes of the generated app and the ROUTES.md document describing them.

Routes are derived from the entity list (five CRUD routes each, and a nested
list under each parent an entity refers to), plus the health check and, when
authentication is part of the spec, the account routes. The
decomposer reads ROUTES.md back only to learn whether authentication is in scope,
so editing ROUTES.md to drop the ``/api/auth/`` rows removes the auth task.
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_appgen.entities import Entity
from prazium_appgen.markdown import is_separator, render_table, split_row
from prazium_appgen.naming import with_article

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
AUTH_PREFIX = "/api/auth/"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    description: str


HEALTH_ROUTE = Route("GET", "/health", "Liveness check; lists the loaded resource modules")

AUTH_ROUTES = (
    Route("POST", "/api/auth/register", "Create an account from email and password"),
    Route("POST", "/api/auth/login", "Exchange email and password for a bearer token"),
    Route("GET", "/api/auth/me", "The account of the bearer token"),
    Route("POST", "/api/auth/logout", "Revoke the bearer token"),
)


def entity_routes(entity: Entity) -> list[Route]:
    label, plural = entity.label, entity.plural_label
    query = ", ".join(f"`{name}`" for name in ["limit", "offset", *_filters(entity)])
    return [
        Route("GET", entity.collection_path, f"List {plural} ({query} query)"),
        Route("POST", entity.collection_path, f"Create {with_article(label)}"),
        Route("GET", entity.item_path, f"Get one {label}"),
        Route("PUT", entity.item_path, f"Update fields of {with_article(label)}"),
        Route("DELETE", entity.item_path, f"Delete {with_article(label)}"),
    ]


def nested_routes(entity: Entity, entities: list[Entity]) -> list[Route]:
    """``GET /api/pets/{id}/visits`` for each parent ``entity`` refers to."""
    routes = []
    for field in entity.references:
        parent = next((e for e in entities if e.name == field.references), None)
        if parent is not None:
            routes.append(
                Route(
                    "GET",
                    f"{parent.item_path}/{entity.url_segment}",
                    f"List the {entity.plural_label} of one {parent.label} (404 if it does not"
                    " exist)",
                )
            )
    return routes


def app_routes(entities: list[Entity], with_auth: bool) -> list[Route]:
    routes = [HEALTH_ROUTE]
    if with_auth:
        routes.extend(AUTH_ROUTES)
    for entity in entities:
        routes.extend(entity_routes(entity))
        routes.extend(nested_routes(entity, entities))
    return routes


def _filters(entity: Entity) -> list[str]:
    return [field.name for field in entity.references]


def relation_lines(entities: list[Entity]) -> list[str]:
    """One line per reference: filtering, a missing parent, deleting a parent."""
    lines = []
    for entity in entities:
        for field in entity.references:
            parent = next((e for e in entities if e.name == field.references), None)
            if parent is None:
                continue
            delete = (
                f"`DELETE {parent.item_path}` also deletes its {entity.plural_label}"
                if field.on_delete == "cascade"
                else f"`DELETE {parent.item_path}` returns 409 while {entity.plural_label}"
                " refer to it"
            )
            lines.append(
                f"- {entity.name} → {parent.name} (`{field.name}`): "
                f"`GET {entity.collection_path}?{field.name}=<id>` and "
                f"`GET {parent.item_path}/{entity.url_segment}` list one {parent.label}'s "
                f"{entity.plural_label}; `POST`/`PUT {entity.collection_path}` with a "
                f"`{field.name}` that does not exist returns 400; {delete}."
            )
    return lines


def render_routes_md(entities: list[Entity], with_auth: bool) -> str:
    rows = [
        (route.method, route.path, route.description) for route in app_routes(entities, with_auth)
    ]
    parts = [
        "# Routes\n",
        "All request and response bodies are JSON. Errors have the shape",
        '`{"error": {"code": "...", "message": "...", "fields": {...}}}`; validation',
        "failures return 400, unknown records 404, unsupported methods 405, a delete",
        "refused because other records refer to the record 409.\n",
        render_table(("Method", "Path", "Description"), rows),
    ]
    relations = relation_lines(entities)
    if relations:
        parts += ["## Relations\n", *relations, ""]
    return "\n".join(parts)


def parse_routes_md(text: str) -> list[tuple[str, str]]:
    """(method, path) of every table row whose first cell is an HTTP method."""
    routes = []
    for line in text.splitlines():
        cells = split_row(line)
        if not cells or is_separator(cells) or len(cells) < 2:
            continue
        method = cells[0].upper()
        if method in HTTP_METHODS and cells[1].startswith("/"):
            routes.append((method, cells[1]))
    return routes


def routes_include_auth(routes_md: str) -> bool:
    return any(path.startswith(AUTH_PREFIX) for _, path in parse_routes_md(routes_md))
