"""The web interface: a page per record type (list, create, edit, delete) at ``/``.

Plain HTML, CSS and JavaScript from ``app/ui/``, served by the app itself on the
same origin as its JSON API: no CDN and no build step. The page reads the data
model from ``GET /ui/model.json`` and keeps all records behind the same API
routes any other client uses, so the API's validation is the only validation.

The page lists the record types itself (not only through JavaScript), and every
answer carries a Content-Security-Policy that allows nothing but this origin.
"""

from __future__ import annotations

import html
import json
import pathlib
import re

from app import APP_NAME
from app.model import ENTITIES, Entity, Field
from app.routing import Handler, JsonObject, Request, Response, Router
from app.storage import Database

UI_DIRECTORY = pathlib.Path(__file__).resolve().parents[1] / "ui"
HTML = "text/html; charset=utf-8"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
MULTILINE_WORDS = frozenset(
    {"description", "notes", "note", "body", "content", "comment", "comments", "instructions",
     "ingredients", "steps", "message", "bio", "summary", "details", "address", "feedback"}
)  # fmt: skip
"""Last words of text fields that hold sentences, edited in a text area."""
DISPLAY_FIELDS = ("name", "title", "subject", "label", "number", "code", "email")
"""Fields that name a record in lists and pickers, in order of preference."""


def words(name: str) -> list[str]:
    return [word for word in name.split("_") if word]


def field_label(field: Field) -> str:
    """``due_date`` -> ``Due date``; a reference ``pet_id`` -> ``Pet``;
    ``duration_minutes`` -> ``Duration (minutes)``."""
    parts = words(field.name)
    if field.references and parts[-1:] == ["id"]:
        parts = parts[:-1] or parts
    unit = ""
    if len(parts) > 1 and parts[-1] in ("minutes", "hours", "days", "bytes"):
        unit = f" ({parts.pop()})"
    text = " ".join(parts)
    return text[:1].upper() + text[1:] + unit


def entity_labels(entity: Entity) -> tuple[str, str]:
    """(singular, plural) labels: ``LineItem`` stored in ``line_items`` -> ``Line item``,
    ``Line items``."""
    spaced = "".join(f" {char.lower()}" if char.isupper() else char for char in entity.name)
    singular = spaced.strip()
    plural = " ".join(words(entity.table))
    return singular[:1].upper() + singular[1:], plural[:1].upper() + plural[1:]


def display_field(entity: Entity) -> str:
    """The field that names a record of ``entity`` for people ('' to show its id)."""
    names = [field.name for field in entity.fields if field.type == "string"]
    for preferred in DISPLAY_FIELDS:
        if preferred in names:
            return preferred
    required = [field.name for field in entity.fields if field.type == "string" and field.required]
    return (required or names or [""])[0]


def field_document(field: Field) -> JsonObject:
    document: JsonObject = {
        "name": field.name,
        "label": field_label(field),
        "type": field.type,
        "required": field.required,
    }
    if field.format:
        document["format"] = field.format
    if field.currency:
        document["currency"] = field.currency
    if field.choices:
        document["choices"] = list(field.choices)
    if field.minimum is not None:
        document["minimum"] = field.minimum
    if field.references:
        document["references"] = field.references
    if (
        field.type == "string"
        and words(field.name)[-1:]
        and words(field.name)[-1] in (MULTILINE_WORDS)
    ):
        document["multiline"] = True
    return document


def ui_model() -> JsonObject:
    """What the page needs to know about the data model, with labels for people."""
    entities = []
    for entity in ENTITIES.values():
        singular, plural = entity_labels(entity)
        entities.append(
            {
                "name": entity.name,
                "label": singular,
                "plural": plural,
                "path": entity.path,
                "segment": entity.path.rsplit("/", 1)[-1],
                "display": display_field(entity),
                "fields": [field_document(field) for field in entity.fields],
            }
        )
    return {"app": APP_NAME, "entities": entities}


def render_page() -> bytes:
    """index.html with the app's name and a link to every record type filled in."""
    links = []
    for entity in ENTITIES.values():
        _, plural = entity_labels(entity)
        segment = entity.path.rsplit("/", 1)[-1]
        links.append(f'<li><a href="#/{html.escape(segment)}">{html.escape(plural)}</a></li>')
    values = {"app_name": html.escape(APP_NAME), "record_links": "\n        ".join(links)}
    template = (UI_DIRECTORY / "index.html").read_text(encoding="utf-8")
    # One pass, so a name that reads like a placeholder stays text.
    page = re.sub(r"\{\{(\w+)\}\}", lambda found: values[found.group(1)], template)
    return page.encode("utf-8")


def static(body: bytes, content_type: str) -> Handler:
    def serve(request: Request) -> Response:
        return Response(200, body, content_type, SECURITY_HEADERS)

    return serve


def register(router: Router, database: Database) -> None:
    router.add("GET", "/", static(render_page(), HTML))
    for name, content_type in ASSETS.items():
        router.add("GET", f"/ui/{name}", static((UI_DIRECTORY / name).read_bytes(), content_type))
    model = json.dumps(ui_model()).encode("utf-8")
    router.add("GET", "/ui/model.json", static(model, "application/json"))
