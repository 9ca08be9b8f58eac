"""GET /livez and /readyz: the Pod's probes (not part of the REST contract).

/livez answers while the process serves HTTP at all (a wedged event loop does not
answer and is restarted). /readyz answers 200 while this replica can serve
requests - PostgreSQL (keys, limits, records) answers - and 503 otherwise. Neither
looks at the operator's heartbeat: an operator outage is reported by /v1/health,
but it must not take every API replica out of its Service (reads, key management
and the health report itself keep working without the operator).
"""

from __future__ import annotations

import asyncio

from fastapi.responses import JSONResponse

from prazium_api.routers.deps import Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.server import health

router = ApiRouter(tags=["System"])


@router.get("/livez", summary="Liveness probe", operation_id="getLivez")
async def get_livez() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz", summary="Readiness probe", operation_id="getReadyz")
async def get_readyz(settings: Settings) -> JSONResponse:
    state, _ = await asyncio.to_thread(health.check_database, settings.database_url)
    # The reason stays in /v1/health (details for admins): probes are unauthenticated.
    return JSONResponse({"status": state}, status_code=200 if state == health.HEALTHY else 503)
