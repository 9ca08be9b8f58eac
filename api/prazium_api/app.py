"""The FastAPI application: routers under /v1, health also at /health for probes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from prazium_api import __version__, web
from prazium_api.auth import authn
from prazium_api.auth.gate import Gate
from prazium_api.cluster.informer import informers
from prazium_api.contract import errors, openapi
from prazium_api.db import Database
from prazium_api.db import unavailable as database_unavailable
from prazium_api.exports import records as exports_store
from prazium_api.previews import expiry as preview_expiry
from prazium_api.routers import (
    auth,
    deployments,
    events,
    exports,
    files,
    git,
    keys,
    probes,
    projects,
    runs,
    system,
    tasklogs,
    tasks,
    ws,
)
from prazium_api.server import gcpolicy, metrics
from prazium_api.server.middleware import BodyLimitMiddleware, RateLimitHeadersMiddleware
from prazium_api.server.requestlog import RequestContextMiddleware
from prazium_api.settings import ApiSettings, get_api_settings
from prazium_api.streams.follower import JournalHub
from prazium_kit import db as schema
from prazium_kit import kube, logs

log = logging.getLogger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """What routes get as dependencies (routers/deps.py): the settings, the database pools,
    the gate and the journal hub, made here and closed when the app stops."""
    settings: ApiSettings = app.state.settings
    try:
        await anyio.to_thread.run_sync(schema.migrate, settings.database_url)
    except Exception as exc:  # health reports the database; start anyway
        log.warning("could not apply migrations at start: %s", exc.__class__.__name__)
    database = Database(settings)
    await database.open()
    hub = JournalHub(settings.database_url, settings.stream_poll_seconds)
    await hub.start()
    app.state.database = database
    gate = Gate(database, settings)
    gate.start()
    app.state.gate = gate
    app.state.journal_hub = hub
    collecting = gcpolicy.configure(settings.gc_full_seconds)
    if settings.read_cache:
        # Each (re)list's objects live until the next: frozen out of full collections.
        informers.on_listed = functools.partial(gcpolicy.freeze_long_lived, "read cache listed")
        # Reads fall back to the apiserver until (and whenever) an informer is not synced.
        await anyio.to_thread.run_sync(informers.start)
    # The app and what it loaded live as long as the process: no full collection
    # should scan them again (server/gcpolicy.py).
    gcpolicy.freeze_long_lived("started")
    loop = asyncio.get_running_loop()
    chores = [
        loop.create_task(
            _reap_exports(
                database, settings.export_stale_seconds, settings.export_reap_interval_seconds
            )
        ),
        loop.create_task(_sweep_previews(settings, database)),
    ]
    if collecting:
        chores.append(
            loop.create_task(
                gcpolicy.full_collections(settings.gc_full_seconds, lambda: hub.last_fanout)
            )
        )
    yield
    for chore in chores:
        chore.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await chore
    informers.stop()
    await gate.stop()  # what it counted in process reaches PostgreSQL
    await hub.stop()
    await database.close()


async def _reap_exports(database: Database, stale_seconds: float, interval: float) -> None:
    """Exports left "processing" by a replica that died: failed (see exports/records.py)."""
    while True:
        try:
            await anyio.to_thread.run_sync(exports_store.reap_stale, database, stale_seconds)
        except Exception as exc:  # the database may be down; try again later
            log.warning("export reaper: %s", exc.__class__.__name__)
        await asyncio.sleep(interval)


async def _sweep_previews(settings: ApiSettings, database: Database) -> None:
    """Expired previews stopped, stops cut short finished (previews/expiry.py)."""
    while True:
        try:
            await anyio.to_thread.run_sync(preview_expiry.sweep, settings, database)
        except Exception as exc:  # the database or the apiserver may be down
            log.warning("preview sweep: %s", exc.__class__.__name__)
        await asyncio.sleep(settings.deploy_sweep_interval_seconds)


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or get_api_settings()
    logs.configure(settings.log_level, settings.log_format)  # main.py's log_config did
    kube.load_config(settings.kubeconfig)
    kube.share_client(settings.kube_pool_size)
    app = FastAPI(
        title="Prazium API",
        version=__version__,
        openapi_url="/v1/openapi.json",
        docs_url=None,  # web.install serves /v1/docs and /v1/redoc on vendored assets
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    errors.install(app, check_first=authn.refuse_unauthenticated)
    retry_after = settings.db_retry_after_seconds

    @app.exception_handler(psycopg.OperationalError)
    async def _database_down(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        # A connection lost mid-request (PostgreSQL stopped or restarting): 503, not 500.
        log.error("database unavailable: %s", exc.__class__.__name__)
        return errors.error_response(database_unavailable(retry_after))

    # Public: health, login (auth's other routes take the caller themselves), the
    # WebSocket (it authenticates its own messages).
    for public in (system.router, auth.router):
        app.include_router(public, prefix="/v1")
    # Every route of these needs credentials (most also take the caller as deps.Caller;
    # the check runs once per request either way).
    for protected in (
        projects.router,
        projects.spec_router,
        runs.router,
        tasks.router,
        tasklogs.router,
        tasklogs.run_router,
        events.router,
        files.router,
        exports.router,
        deployments.router,
        system.admin_router,
        keys.router,
    ):
        app.include_router(protected, prefix="/v1", dependencies=[Depends(authn.authenticate)])
    # git clone / fetch: credentials as git sends them (Basic after a 401 challenge),
    # checked and counted by the same gate (git/credentials.py).
    app.include_router(git.router, prefix="/v1")
    app.include_router(ws.router, prefix="/v1")
    app.include_router(system.router, include_in_schema=False)  # /health for probes
    if settings.metrics_enabled:  # Prometheus text, public like /health (server/metrics.py)
        app.add_route("/metrics", metrics.metrics_endpoint, include_in_schema=False)
    app.include_router(probes.router, include_in_schema=False)  # /livez, /readyz
    web.install(app)  # the dashboard at /, the docs at /v1/docs and /v1/redoc
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(metrics.MetricsMiddleware)  # inside the request id: times the rest
    app.add_middleware(RequestContextMiddleware)  # outermost: request id, access line

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = openapi.build(app)
        return app.openapi_schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
    return app
