"""Web UI sessions: exchange an API key for the prazium_session cookie; log out."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import Request, Response

from prazium_api.auth import keys
from prazium_api.auth.authn import (
    SESSION_COOKIE,
    client_ip,
    credentials,
    cross_origin,
    csrf_token,
    rate_limited_error,
)
from prazium_api.contract.errors import ApiError
from prazium_api.contract.requests import Login
from prazium_api.contract.responses import LoggedOut, Me, Ok, Session, ok
from prazium_api.db import Database
from prazium_api.routers.deps import Caller, Db, GateDep, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_kit.timefmt import iso_z

router = ApiRouter(tags=["Authentication"])


def _create_session(database: Database, key_id: str, ttl_seconds: int) -> tuple[str, Any]:
    with database.connection() as conn:
        return keys.create_session(conn, key_id, ttl_seconds)


@router.post(
    "/auth/login",
    summary="Exchange an API key for a session cookie",
    operation_id="login",
    response_model=Ok[Session],
    description="Failed attempts are limited per (client address, key)"
    " (PRAZIUM_AUTH_FAILURES_PER_MINUTE, shared by replicas): past the limit"
    " that key from that address answers 429 RATE_LIMITED until the minute"
    " ends, without being looked at; other keys are not affected. A login"
    " also counts as a request of the key.",
)
async def login(
    body: Login,
    request: Request,
    response: Response,
    settings: Settings,
    database: Db,
    gate: GateDep,
) -> Ok[Session]:
    if cross_origin(request.scope):  # another site logging the browser in as someone
        raise ApiError("FORBIDDEN", "log in from the API's own origin")
    outcome = await gate.login_attempt(body.apiKey, client_ip(request.scope))
    verdict, principal = outcome.verdict, outcome.principal
    if verdict is not None and not verdict.allowed:
        what = "requests" if principal else "failed checks of this credential from this address"
        error = rate_limited_error(verdict, what)
        # Public route: the headers are not added by the middleware (no verdict recorded).
        error.headers = {
            **(error.headers or {}),
            **{k.decode(): v.decode() for k, v in verdict.headers()},
        }
        raise error
    if principal is None:
        raise ApiError("UNAUTHORIZED", "invalid or revoked API key")
    token, expires_at = await anyio.to_thread.run_sync(
        _create_session, database, principal.key_id, settings.session_ttl_seconds
    )
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
        path="/",
    )
    return ok(
        Session(
            keyId=principal.key_id,
            tenant=principal.tenant,
            tier=principal.tier,
            expiresAt=iso_z(expires_at),
            csrfToken=csrf_token(token),
        )
    )


@router.post(
    "/auth/logout",
    summary="End the session of the prazium_session cookie",
    operation_id="logout",
    response_model=Ok[LoggedOut],
)
def logout(request: Request, response: Response, caller: Caller, database: Db) -> Ok[LoggedOut]:
    _, session = credentials(request.scope["headers"])
    if session:
        with database.connection() as conn:
            keys.delete_session(conn, session)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return ok(LoggedOut(loggedOut=True))


@router.get(
    "/auth/me", summary="Who the credentials belong to", operation_id="getMe", response_model=Ok[Me]
)
def me(request: Request, caller: Caller) -> Ok[Me]:
    bearer, session = credentials(request.scope["headers"])
    return ok(
        Me(
            keyId=caller.key_id,
            tenant=caller.tenant,
            tier=caller.tier,
            admin=caller.is_admin,
            csrfToken=csrf_token(session) if session and not bearer else None,
        )
    )
