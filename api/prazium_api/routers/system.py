"""GET /v1/health (and /health for probes); GET /v1/admin/stats."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from prazium_api import __version__, stats
from prazium_api.auth import authn
from prazium_api.auth.gate import Gate
from prazium_api.contract.errors import ApiError
from prazium_api.contract.responses import Health, Ok, Stats, ok
from prazium_api.routers.deps import Admin, Db, GateDep, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.server import health

log = logging.getLogger(__name__)
router = ApiRouter(tags=["System"])
admin_router = ApiRouter(tags=["System"])


@admin_router.get(
    "/admin/stats",
    summary="System statistics (admin keys only)",
    operation_id="getSystemStats",
    response_model=Ok[Stats],
)
def get_stats(admin: Admin, settings: Settings, database: Db) -> Ok[Stats]:
    return ok(stats.collect(database, settings.operator_stale_seconds))


@router.get(
    "/health",
    summary="Health of the API and each component it depends on",
    operation_id="getHealth",
    response_model=Health,
    description="Anyone gets the overall status and a status word per component;"
    " `details` (why a component is unhealthy) only with an admin key"
    " or session, since they name hosts, ports and driver errors.",
    responses={503: {"model": Health, "description": "A component is unhealthy"}},
)
async def get_health(request: Request, settings: Settings, gate: GateDep) -> JSONResponse:
    checks = await asyncio.gather(
        asyncio.to_thread(health.check_kubernetes),
        asyncio.to_thread(health.check_database, settings.database_url),
        asyncio.to_thread(
            health.check_operator, settings.database_url, settings.operator_stale_seconds
        ),
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
        # The reasons go to the log (for whoever runs the service) and to admins.
        log.warning("unhealthy: %s", "; ".join(f"{k}: {v}" for k, v in problems.items()))
        if await _is_admin(request, gate):
            body["details"] = problems
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _is_admin(request: Request, gate: Gate) -> bool:
    """Whether the request carries an admin key or session. Never an error: health is
    public, and with the database down no credential can be checked at all."""
    bearer, session = authn.credentials(request.scope["headers"])
    if not bearer and not session:
        return False
    try:
        outcome = await gate.check(bearer, session, authn.client_ip(request.scope))
    except ApiError:
        return False
    return outcome.principal is not None and outcome.principal.is_admin
