"""Which files of the generated app belong to which unit of work.

The decomposer turns these components into tasks (path scopes and expected
outputs) and the code generator keys its output by the same paths, so a task's
files are exactly the generated files inside its scope. Components that can run
in parallel own disjoint files: every resource is a separate module discovered
at start-up, so no two branches edit a shared route table.
"""

from __future__ import annotations

from prazium_appgen.entities import Entity

SHELL_FILES = (
    ".gitignore",
    "README.md",
    "run.sh",
    "app/__init__.py",
    "app/__main__.py",
    "app/routing.py",
    "app/storage.py",
    "app/server.py",
    "app/resources/__init__.py",
    "app/resources/health.py",
    "tests/__init__.py",
    "tests/harness.py",
    "tests/test_health.py",
)
MODEL_FILES = (
    "app/model/__init__.py",
    "app/model/model.json",
    "app/model/schema.py",
    "app/model/validation.py",
    "app/model/relations.py",
    "tests/records.py",
    "tests/test_model.py",
)
# The model package is a directory the task owns outright; helpers may be added to it.
# tests/records.py builds valid sample records (parents included) for every test.
MODEL_SCOPE = ("app/model/**", "tests/records.py", "tests/test_model.py")
AUTH_FILES = ("app/resources/auth.py", "tests/test_auth_api.py")
SMOKE_FILES = ("tests/test_smoke.py",)
EXECUTABLE_FILES = frozenset({"run.sh"})


def resource_module_path(entity: Entity) -> str:
    return f"app/resources/{entity.module}.py"


def resource_test_path(entity: Entity) -> str:
    return f"tests/test_{entity.module}_api.py"


def resource_files(entities: list[Entity]) -> tuple[str, ...]:
    return tuple(
        path
        for entity in entities
        for path in (resource_module_path(entity), resource_test_path(entity))
    )
