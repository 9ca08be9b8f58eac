"""GET /v1/health (and /health for probes)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from prazium_api import __version__, health, stats
from prazium_api.deps import Admin, ok
from prazium_api.settings import get_api_settings

router = APIRouter(tags=["system"])
admin_router = APIRouter(tags=["system"])


@admin_router.get("/admin/stats", summary="System statistics (admin keys only)")
def get_stats(admin: Admin) -> dict[str, Any]:
    return ok(stats.collect(get_api_settings().operator_stale_seconds))


@router.get("/health", summary="Health of the API and each component it depends on")
async def get_health() -> JSONResponse:
    settings = get_api_settings()
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
