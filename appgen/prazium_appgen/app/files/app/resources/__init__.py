"""Resource modules, discovered at start-up.

Every module in this package that defines ``register(router, database)`` is
loaded, in name order. Discovery instead of a central route table means each
resource is added by adding one file, so work on different resources never
edits the same file and merges cleanly.
"""

from __future__ import annotations

import importlib
import pkgutil

from app.routing import Router
from app.storage import Database


def resource_module_names() -> list[str]:
    return sorted(module.name for module in pkgutil.iter_modules(__path__))


def load_resources(router: Router, database: Database) -> list[str]:
    """Register every resource module's routes; returns the names of the modules loaded."""
    loaded = []
    for name in resource_module_names():
        module = importlib.import_module(f"{__name__}.{name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(router, database)
            loaded.append(name)
    return loaded
