"""GET /v1/health (and /health for probes); GET /v1/admin/stats (verbs/system.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from prazium_api.auth import authn
from prazium_api.contract.responses import Health, Ok, Stats, ok
from prazium_api.routers.deps import Admin, Db, GateDep, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import system

router = ApiRouter(tags=["System"])
admin_router = ApiRouter(tags=["System"])


@admin_router.get(
    "/admin/stats",
    summary="System statistics (admin keys only)",
    operation_id="getSystemStats",
    response_model=Ok[Stats],
)
def get_stats(admin: Admin, settings: Settings, database: Db) -> Ok[Stats]:
    return ok(system.stats(database, settings.operator_stale_seconds))


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
    bearer, session = authn.credentials(request.scope["headers"])
    client_ip = authn.client_ip(request.scope)
    answer = await system.health_of(settings, gate, bearer, session, client_ip)
    status = 200 if answer.status == "healthy" else 503
    return JSONResponse(answer.model_dump(exclude_unset=True), status_code=status)
