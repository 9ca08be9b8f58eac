"""GET /health: liveness, and which resource modules are loaded."""

from __future__ import annotations

from app import APP_NAME
from app.resources import resource_module_names
from app.routing import Request, Response, Router
from app.storage import Database


def register(router: Router, database: Database) -> None:
    def health(request: Request) -> Response:
        return Response(
            200, {"status": "ok", "app": APP_NAME, "resources": resource_module_names()}
        )

    router.add("GET", "/health", health)
