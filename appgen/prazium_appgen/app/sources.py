"""The generated app's source files, shipped as package data under ``files/``.

Most files are copied as they are: the app reads its data model from the
generated ``app/model/model.json``, so a resource module is the same file for
every entity. Only the per-entity HTTP test is a template, with an explicit
marker scheme (see :mod:`render`) that keeps the template a real, linted
Python file.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

FILES_PACKAGE = "prazium_appgen.app"
FILES_DIRECTORY = "files"

COPIED = {
    ".gitignore": "gitignore",
    "run.sh": "run.sh",
    "app/__main__.py": "app/__main__.py",
    "app/routing.py": "app/routing.py",
    "app/storage.py": "app/storage.py",
    "app/server.py": "app/server.py",
    "app/resources/__init__.py": "app/resources/__init__.py",
    "app/resources/health.py": "app/resources/health.py",
    "tests/__init__.py": "tests/__init__.py",
    "tests/harness.py": "tests/harness.py",
    "tests/test_health.py": "tests/test_health.py",
    "app/model/__init__.py": "app/model/__init__.py",
    "app/model/schema.py": "app/model/schema.py",
    "app/model/validation.py": "app/model/validation.py",
    "app/model/relations.py": "app/model/relations.py",
    "tests/records.py": "tests/records.py",
    "tests/test_model.py": "tests/test_model.py",
    "tests/test_smoke.py": "tests/test_smoke.py",
}
"""Generated path -> file under ``files/`` (a dot file is stored without its dot)."""
AUTH_COPIED = {
    "app/resources/auth.py": "app/resources/auth.py",
    "tests/test_auth_api.py": "tests/test_auth_api.py",
}
RESOURCE_MODULE = "per_entity/resource.py"
RESOURCE_TEST = "per_entity/test_resource_api.py"


@cache
def source(name: str) -> str:
    """The text of ``files/<name>``."""
    path = resources.files(FILES_PACKAGE).joinpath(FILES_DIRECTORY, *name.split("/"))
    return path.read_text(encoding="utf-8")
