"""Route dependencies: who is calling (authn), the settings, the database pools and
the journal hub the lifespan made (app.state), pagination, the API's base URL.

They are async although they do no I/O: FastAPI runs a plain def dependency in a
worker thread, a hop that costs more than a cached read."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from starlette.requests import HTTPConnection, Request

from prazium_api.auth.authn import authenticate
from prazium_api.auth.gate import Gate
from prazium_api.auth.keys import Principal
from prazium_api.contract.errors import ApiError
from prazium_api.contract.responses import Page
from prazium_api.db import Database
from prazium_api.settings import ApiSettings
from prazium_api.streams.follower import JournalHub


async def admin_principal(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    if not principal.is_admin:
        raise ApiError("FORBIDDEN", "this route needs an admin API key")
    return principal


async def app_settings(conn: HTTPConnection) -> ApiSettings:
    settings: ApiSettings = conn.app.state.settings
    return settings


async def app_database(conn: HTTPConnection) -> Database:
    database: Database = conn.app.state.database
    return database


async def app_gate(conn: HTTPConnection) -> Gate:
    gate: Gate = conn.app.state.gate
    return gate


async def app_journal_hub(conn: HTTPConnection) -> JournalHub:
    hub: JournalHub = conn.app.state.journal_hub
    return hub


Caller = Annotated[Principal, Depends(authenticate)]
Admin = Annotated[Principal, Depends(admin_principal)]
Settings = Annotated[ApiSettings, Depends(app_settings)]
Db = Annotated[Database, Depends(app_database)]
GateDep = Annotated[Gate, Depends(app_gate)]
Hub = Annotated[JournalHub, Depends(app_journal_hub)]


def base_url(request: Request, settings: ApiSettings) -> str:
    """Where clients reach this API (a project's cloneUrl starts with it):
    PRAZIUM_EXTERNAL_URL when set (say, behind an Ingress), else the base URL of the
    request being answered (its scheme, Host header and root path, as uvicorn saw
    them after any trusted proxy's X-Forwarded-* headers). A plain function, not a
    dependency: resolving one more dependency per request costs more than this."""
    return (settings.external_url or str(request.base_url)).rstrip("/")


async def pagination(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number")] = 1,
    page_size: Annotated[
        int, Query(alias="pageSize", ge=1, le=100, description="Items per page (max 100)")
    ] = 20,
) -> Page:
    return Page(page, page_size)


Paging = Annotated[Page, Depends(pagination)]
