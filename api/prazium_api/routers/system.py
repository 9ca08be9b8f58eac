"""GET /v1/health (and /health for probes); GET /v1/admin/stats."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.responses import JSONResponse

from prazium_api import __version__, health, stats
from prazium_api.deps import Admin, Db, Settings, ok
from prazium_api.routing import ApiRouter
from prazium_api.schemas import Health, Ok, Stats
from prazium_kit.types import Obj

router = ApiRouter(tags=["System"])
admin_router = ApiRouter(tags=["System"])


@admin_router.get("/admin/stats", summary="System statistics (admin keys only)",
                  operation_id="getSystemStats", response_model=Ok[Stats])
def get_stats(admin: Admin, settings: Settings, database: Db) -> Obj:
    return ok(stats.collect(database, settings.operator_stale_seconds))


@router.get("/health", summary="Health of the API and each component it depends on",
            operation_id="getHealth", response_model=Health,
            responses={503: {"model": Health, "description": "A component is unhealthy"}})
async def get_health(settings: Settings) -> JSONResponse:
    checks = await asyncio.gather(
        asyncio.to_thread(health.check_kubernetes),
        asyncio.to_thread(health.check_database, settings.database_url),
        asyncio.to_thread(health.check_operator, settings.database_url,
                          settings.operator_stale_seconds),
    )
    names = ("kubernetes", "database", "operator")
    components = {name: state for name, (state, _) in zip(names, checks, strict=True)}
    problems = {name: why for name, (_, why) in zip(names, checks, strict=True) if why}
    healthy = not problems
    body: dict[str, Any] = {
        "status": health.HEALTHY if healthy else health.UNHEALTHY,
        "version": __version__,
        "components": components,
    }
    if problems:
        body["details"] = problems
    return JSONResponse(body, status_code=200 if healthy else 503)
