"""The FastAPI application: routers under /v1, health also at /health for probes."""

from __future__ import annotations

from fastapi import FastAPI

from prazium_api import __version__
from prazium_api.routers import system
from prazium_api.settings import get_api_settings
from prazium_operator import kube


def create_app() -> FastAPI:
    settings = get_api_settings()
    kube.load_config(settings.kubeconfig)
    app = FastAPI(
        title="Prazium API",
        version=__version__,
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
    )
    app.include_router(system.router, prefix="/v1")
    app.include_router(system.router)  # /health for liveness/readiness probes
    return app
