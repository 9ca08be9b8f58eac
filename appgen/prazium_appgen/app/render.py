"""Rendering the whole generated app from the spec documents.

Everything the generator needs is read from the documents (DATA.md for the
entities, ROUTES.md for whether accounts are in scope, SPEC.md for the title),
never from planner state, so hand-edited or GitOps-supplied documents work.
Output is a pure function of the documents: same documents, same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prazium_appgen import layout
from prazium_appgen.app.pyliteral import block_literal, literal
from prazium_appgen.app.sources import (
    AUTH_COPIED,
    COPIED,
    RESOURCE_MODULE,
    RESOURCE_TEST,
    source,
)
from prazium_appgen.data_md import parse_data_md
from prazium_appgen.entities import Entity, Field
from prazium_appgen.markdown import render_table
from prazium_appgen.routes import (
    app_routes,
    relation_lines,
    routes_include_auth,
)
from prazium_appgen.spec import VERIFY_COMMAND

TITLE_PATTERN = re.compile(r"^#\s+(?P<title>.+?)(?:\s+[—-]+\s+Specification)?\s*$", re.M)


@dataclass(frozen=True)
class AppModel:
    """What the generated app consists of."""

    name: str
    entities: tuple[Entity, ...]
    with_auth: bool

    @property
    def resource_modules(self) -> list[str]:
        """Module names under app/resources once every task is merged."""
        modules = ["health", *(entity.module for entity in self.entities)]
        return sorted([*modules, "auth"] if self.with_auth else modules)


def app_model(documents: Mapping[str, str]) -> AppModel:
    title = TITLE_PATTERN.search(documents.get("SPEC.md", ""))
    return AppModel(
        name=title.group("title").strip() if title else "App",
        entities=tuple(parse_data_md(documents.get("DATA.md", ""))),
        with_auth=routes_include_auth(documents.get("ROUTES.md", "")),
    )


def render_app(app: AppModel) -> dict[str, str]:
    """Every file of the finished app, keyed by repository-relative path."""
    files = {path: source(name) for path, name in COPIED.items()}
    files["README.md"] = render_readme(app)
    files["app/__init__.py"] = render_app_init(app)
    files["app/model/model.json"] = render_model_json(app)
    for entity in app.entities:
        files[layout.resource_module_path(entity)] = source(RESOURCE_MODULE)
        files[layout.resource_test_path(entity)] = render_resource_test(entity)
    if app.with_auth:
        files.update({path: source(name) for path, name in AUTH_COPIED.items()})
    return dict(sorted(files.items()))


def render_model_json(app: AppModel) -> str:
    """The data model the generated app loads at start-up (app/model/schema.py)."""
    model = {
        "entities": [
            {
                "name": entity.name,
                "table": entity.table,
                "path": entity.collection_path,
                "fields": [field.as_json() for field in entity.fields],
            }
            for entity in app.entities
        ],
        "resource_modules": app.resource_modules,
    }
    return json.dumps(model, indent=2) + "\n"


# The per-entity test template's placeholders: a block of constants between two
# marker lines, and the class statement on the line after the class marker.
BLOCK_BEGIN, BLOCK_END = "# generated: begin", "# generated: end"
CLASS_MARKER = "# generated: class"
RELATION_BASES = "records.RelationChecks, ServerTestCase"


def render_resource_test(entity: Entity) -> str:
    writable = [field for field in entity.fields if not field.references] or list(entity.fields)
    first = writable[0]
    constants = [
        f"ENTITY_NAME = {literal(entity.name)}",
        f"COLLECTION = {literal(entity.collection_path)}",
        "VALID: JsonObject = "
        + block_literal({field.name: sample_value(field) for field in writable}),
        f"CHANGED: JsonObject = {literal({first.name: changed_value(first)})}",
        f"WRONG_TYPE: JsonObject = {literal({first.name: wrong_value(first)})}",
        f"REQUIRED: list[str] = {literal([field.name for field in entity.required_fields])}",
    ]
    base = RELATION_BASES if entity.references else "ServerTestCase"
    lines = source(RESOURCE_TEST).splitlines()
    begin, end = lines.index(BLOCK_BEGIN), lines.index(BLOCK_END)
    class_line = lines.index(CLASS_MARKER) + 1
    result = [
        *lines[:begin],
        *constants,
        *lines[end + 1 : class_line - 1],
        f"class {entity.name}ApiTest({base}):",
        *lines[class_line + 1 :],
    ]
    return "\n".join(result) + "\n"


def sample_value(field: Field) -> Any:
    """A plausible valid value, recognisable in test output."""
    if field.choices:
        return field.choices[0]
    if field.format:
        return FORMAT_SAMPLES[field.format][0]
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
    if field.choices:
        return field.choices[-1]
    if field.format:
        return FORMAT_SAMPLES[field.format][1]
    if field.type == "boolean":
        return False
    if field.type == "integer":
        return 7
    if field.type == "number":
        return 9.75
    return "Updated " + field.name.replace("_", " ")


def wrong_value(field: Field) -> Any:
    return {"string": 12345, "integer": "three", "number": "2.5", "boolean": "yes"}[field.type]


FORMAT_SAMPLES = {
    "date": ("2024-05-17", "2024-06-30"),
    "datetime": ("2024-05-17T09:30:00", "2024-06-30T14:00:00"),
    "time": ("09:30", "18:45"),
    "email": ("someone@example.com", "someone.else@example.com"),
}


def render_app_init(app: AppModel) -> str:
    return (
        '"""The application package; see README.md for running and testing it."""\n\n'
        f"APP_NAME = {literal(app.name)}\n"
    )


def render_readme(app: AppModel) -> str:
    routes = app_routes(list(app.entities), app.with_auth)
    table = render_table(
        ("Method", "Path", "Description"),
        [(route.method, f"`{route.path}`", route.description) for route in routes],
    )
    layout_lines = [
        "- `app/server.py`: HTTP server and request dispatch",
        "- `app/routing.py`: route table with `{id}` path parameters",
        "- `app/storage.py`: SQLite access",
        "- `app/model/`: entity definitions (from DATA.md) and validation",
        "- `app/resources/`: one module per resource, discovered at start-up",
        "- `tests/`: HTTP tests that start the real server on a free port",
    ]
    return "\n".join(
        [
            f"# {app.name}",
            "",
            "A JSON HTTP API generated by Prazium's template agent from the project's spec",
            "(SPEC.md, ROUTES.md, DATA.md). It uses only the Python 3.11 standard library.",
            "",
            "## Run",
            "",
            "```sh",
            "python -m app            # or: sh run.sh",
            "```",
            "",
            "| Variable | Default | Meaning |",
            "|----------|---------|---------|",
            "| `APP_HOST` | `127.0.0.1` | Interface to listen on |",
            "| `APP_PORT` | `8000` | Port to listen on |",
            "| `APP_DATABASE` | in-memory | SQLite database file |",
            "| `APP_ACCESS_LOG` | unset | `1` logs every request to stderr |",
            "",
            "## Test",
            "",
            "```sh",
            " ".join(VERIFY_COMMAND),
            "```",
            "",
            "## Layout",
            "",
            *layout_lines,
            "",
            "## Routes",
            "",
            table,
            *_relations_section(list(app.entities)),
        ]
    )


def _relations_section(entities: list[Entity]) -> list[str]:
    lines = relation_lines(entities)
    return ["## Relations", "", *lines, ""] if lines else []
