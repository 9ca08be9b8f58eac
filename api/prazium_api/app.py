"""The FastAPI application: routers under /v1, health also at /health for probes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from prazium_api import __version__, db, errors, openapi
from prazium_api import exports as exports_store
from prazium_api.follower import JournalHub
from prazium_api.middleware import ApiGateMiddleware
from prazium_api.requestlog import RequestContextMiddleware
from prazium_api.routers import (
    auth,
    deployments,
    events,
    exports,
    files,
    projects,
    runs,
    system,
    tasks,
    ws,
)
from prazium_api.settings import get_api_settings
from prazium_kit import db as schema
from prazium_kit import kube, logs

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_api_settings()
    try:
        await anyio.to_thread.run_sync(schema.migrate, settings.database_url)
    except Exception as exc:  # health reports the database; start anyway
        log.warning("could not apply migrations at start: %s", exc.__class__.__name__)
    hub = JournalHub(settings.database_url, settings.stream_poll_seconds)
    await hub.start()
    app.state.journal_hub = hub
    reaper = asyncio.get_running_loop().create_task(_reap_exports(
        settings.export_stale_seconds, settings.export_reap_interval_seconds))
    yield
    reaper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reaper
    await hub.stop()
    await db.aclose()
    await anyio.to_thread.run_sync(db.close)


async def _reap_exports(stale_seconds: float, interval: float) -> None:
    """Exports left "processing" by a replica that died: failed (see exports.py)."""
    while True:
        try:
            await anyio.to_thread.run_sync(exports_store.reap_stale, stale_seconds)
        except Exception as exc:  # the database may be down; try again later
            log.warning("export reaper: %s", exc.__class__.__name__)
        await asyncio.sleep(interval)


def create_app() -> FastAPI:
    settings = get_api_settings()
    logs.configure(settings.log_level, settings.log_format)  # main.py's log_config did
    kube.load_config(settings.kubeconfig)
    kube.share_client(settings.kube_pool_size)
    app = FastAPI(
        title="Prazium API",
        version=__version__,
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    errors.install(app)
    for module in (system, auth, projects, runs, tasks, events, files, exports, deployments,
                   ws):
        app.include_router(module.router, prefix="/v1")
    app.include_router(system.admin_router, prefix="/v1")
    app.include_router(system.router, include_in_schema=False)  # /health for probes
    app.add_middleware(ApiGateMiddleware)
    app.add_middleware(RequestContextMiddleware)  # outermost: request id, access line

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.build(app)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app
