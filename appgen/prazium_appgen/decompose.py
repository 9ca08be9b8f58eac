"""Turning the spec documents into a plan of tasks for the generated app.

The DAG (typically 5-10 tasks)::

    task-001 app-shell ──┬─► task-002 data-model ──► api-<resource> ... ─┐
                         └─► auth (when ROUTES.md has /api/auth/ routes) ┴─► smoke-tests

Tasks that can run in parallel own disjoint files (see :mod:`layout`), so the
merge order, which is simply the id order (already topological), never
conflicts. With many entities, resources are grouped so the plan stays at most
:data:`MAX_TASKS` tasks; each group still owns only its own files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prazium_appgen import layout
from prazium_appgen.app import AppModel, app_model
from prazium_appgen.entities import Entity, parents_first
from prazium_appgen.spec import VERIFY_COMMAND
from prazium_kit.agentapi import PlanDocument, PlanTask
from prazium_kit.plan import MAX_SLUG_LENGTH, topological_order, validate_plan

MAX_TASKS = 10
SHELL, MODEL, AUTH, SMOKE = "app-shell", "data-model", "auth", "smoke-tests"


@dataclass(frozen=True)
class Component:
    """One unit of work before it is numbered into a task."""

    slug: str
    description: str
    instructions: str
    depends_on: tuple[str, ...]
    scope: tuple[str, ...]
    outputs: tuple[str, ...]


def decompose_documents(documents: Mapping[str, str]) -> PlanDocument:
    """The plan for building the app the documents describe; passes validate_plan."""
    components = plan_components(app_model(documents))
    ids = {component.slug: f"task-{index:03d}" for index, component in enumerate(components, 1)}
    tasks: list[PlanTask] = [
        {
            "id": ids[component.slug],
            "slug": component.slug,
            "description": component.description,
            "instructions": component.instructions,
            "dependencies": [ids[slug] for slug in component.depends_on],
            "pathScope": list(component.scope),
            "expectedOutputs": list(component.outputs),
        }
        for component in components
    ]
    plan: PlanDocument = {
        "tasks": tasks,
        "mergeOrder": topological_order(tasks),
        "verifyCommand": list(VERIFY_COMMAND),
    }
    validate_plan(plan)
    return plan


def plan_components(app: AppModel) -> list[Component]:
    # Parents first, so a resource task can depend on the tasks of the records it refers to:
    # its tests create parent records over HTTP, which needs the parent's routes merged.
    entities = parents_first(list(app.entities))
    fixed = [_shell(app), _model()]
    if app.with_auth:
        fixed.append(_auth())
    room = MAX_TASKS - len(fixed) - 1  # the smoke-test task comes last
    groups = _group_resources(entities, room)
    resources = [
        _resource(group, slug, _parent_slugs(group, groups[:index]))
        for index, (group, slug) in enumerate(groups)
    ]
    after = [component.slug for component in fixed[2:] + resources]
    return [*fixed, *resources, _smoke(app, after)]


def _group_resources(entities: list[Entity], room: int) -> list[tuple[list[Entity], str]]:
    """Split entities into at most ``room`` contiguous groups of near-equal size, with slugs."""
    count = min(len(entities), max(room, 1))
    size, extra = divmod(len(entities), count)
    groups: list[tuple[list[Entity], str]] = []
    start = 0
    used: set[str] = set()
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        group = entities[start:end]
        start = end
        base = f"api-{group[0].url_segment}"
        suffix = "" if len(group) == 1 else f"-and-{len(group) - 1}-more"
        groups.append((group, _unique_slug(base, suffix, used)))
    return groups


def _parent_slugs(group: list[Entity], earlier: list[tuple[list[Entity], str]]) -> tuple[str, ...]:
    """Slugs of earlier resource groups holding an entity that ``group`` refers to."""
    parents = {field.references for entity in group for field in entity.references}
    return tuple(slug for members, slug in earlier if parents & {e.name for e in members})


def _unique_slug(base: str, suffix: str, used: set[str]) -> str:
    """``base + suffix`` cut to the slug length limit, numbered if already taken."""
    number = 1
    while True:
        tail = suffix + (f"-{number}" if number > 1 else "")
        slug = base[: MAX_SLUG_LENGTH - len(tail)].rstrip("-") + tail
        if slug not in used:
            used.add(slug)
            return slug
        number += 1


def _shell(app: AppModel) -> Component:
    return Component(
        slug=SHELL,
        description="App shell: HTTP server, routing, SQLite storage, test harness, README",
        instructions=(
            "Create the `app` package of a Python 3.11 standard-library JSON API: "
            "`app/routing.py` (Router with `{id}` path parameters, Request/Response, HttpError "
            'rendered as {"error": {code, message, fields}}), `app/storage.py` (thread-safe '
            "SQLite Database; path from APP_DATABASE, default in-memory; ensure_table, insert, "
            "get, find, list, update, delete), `app/server.py` (ThreadingHTTPServer; JSON "
            "bodies, 400 invalid JSON, 404 unknown path, 405 wrong method; create_server(host, "
            "port, database_path); main() reading APP_HOST/APP_PORT), `app/__main__.py`, "
            "`app/resources/__init__.py` which imports every module of the package at start-up "
            "and calls its `register(router, database)` (so resources never edit a shared "
            "file), and `app/resources/health.py` (GET /health). Add `tests/harness.py` with "
            "a ServerTestCase that serves the app on a free loopback port in a thread and "
            "offers request(method, path, body) over urllib, `tests/test_health.py`, README.md "
            f"listing the routes of ROUTES.md, run.sh and .gitignore. App name: {app.name}."
        ),
        depends_on=(),
        scope=layout.SHELL_FILES,
        outputs=layout.SHELL_FILES,
    )


def _model() -> Component:
    return Component(
        slug=MODEL,
        description="Data model: entity schema from DATA.md and payload validation",
        instructions=(
            "Write every entity of DATA.md to `app/model/model.json` (name, table, path "
            "/api/<plural>, fields with type string/integer/number/boolean, required and the "
            "Rules column: format, choices, minimum, references with on_delete) and create "
            "`app/model/schema.py` loading it into Field and Entity dataclasses (ENTITIES, "
            "entity_of_module, children_of). Create `app/model/validation.py`: validate(entity, "
            "payload, partial=False) returning the writable fields or raising "
            "ValidationError(fields) for non-objects, unknown fields, missing required fields, "
            "wrong types (booleans are not numbers) and broken rules; to_row/from_row "
            "converting booleans to and from SQLite integers. Create `app/model/relations.py` "
            "(missing parents, deletes that restrict or cascade) and `tests/records.py` "
            "(valid sample records, parents created over HTTP, relation tests). Export them "
            "from `app/model/__init__.py` and test every rule in `tests/test_model.py`."
        ),
        depends_on=(SHELL,),
        scope=layout.MODEL_SCOPE,
        outputs=layout.MODEL_FILES,
    )


def _auth() -> Component:
    return Component(
        slug=AUTH,
        description="Accounts: register, login, me and logout with bearer tokens",
        instructions=(
            "Create `app/resources/auth.py` with register(router, database) serving POST "
            "/api/auth/register (email + password of at least 8 characters; 201, 409 for a "
            "taken email, 400 naming bad fields), POST /api/auth/login (200 with a random "
            "bearer token, 401 on wrong credentials), GET /api/auth/me (the token's account, "
            "401 without a valid token) and POST /api/auth/logout (204, revokes the token). "
            "Store passwords as salted PBKDF2-SHA256 hashes and tokens as SHA-256 digests in "
            "their own tables. Test every route over HTTP in `tests/test_auth_api.py`."
        ),
        depends_on=(SHELL,),
        scope=layout.AUTH_FILES,
        outputs=layout.AUTH_FILES,
    )


def _resource(entities: list[Entity], slug: str, parent_slugs: tuple[str, ...]) -> Component:
    files = layout.resource_files(entities)
    names = ", ".join(entity.name for entity in entities)
    parts = []
    for entity in entities:
        references = ", ".join(
            f"{field.name} -> {field.references} ({field.on_delete or 'restrict'})"
            for field in entity.references
        )
        relation_note = (
            f" References {references}: 400 for a missing parent, `?<field>=<id>` filters the "
            "list, a nested list route under each parent, and the parent's delete is refused "
            "(409) or cascades as DATA.md says."
            if references
            else ""
        )
        parts.append(
            f"`{layout.resource_module_path(entity)}`: register(router, database) creating "
            f"table `{entity.table}` and serving GET/POST {entity.collection_path} and "
            f"GET/PUT/DELETE {entity.item_path} for the {entity.name} entity of DATA.md "
            "(validate with app.model; 201 on create, 400 with field errors, 404 for unknown "
            "ids, 204 on delete, limit/offset paging on list); "
            f"`{layout.resource_test_path(entity)}`: a ServerTestCase test for each route, "
            f"success and error cases.{relation_note}"
        )
    return Component(
        slug=slug,
        description=f"CRUD API and HTTP tests for {names}",
        instructions=" ".join(parts),
        depends_on=(SHELL, MODEL, *parent_slugs),
        scope=files,
        outputs=files,
    )


def _smoke(app: AppModel, depends_on: list[str]) -> Component:
    return Component(
        slug=SMOKE,
        description="Whole-app smoke tests run after every resource is merged",
        instructions=(
            "Create `tests/test_smoke.py`: GET /health must list exactly the resource modules "
            f"{', '.join(app.resource_modules)}, and every entity in app.model.ENTITIES must "
            "survive a create, read, list, delete round trip over HTTP."
        ),
        depends_on=tuple(depends_on),
        scope=layout.SMOKE_FILES,
        outputs=layout.SMOKE_FILES,
    )
