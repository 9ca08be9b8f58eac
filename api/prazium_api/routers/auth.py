"""Web UI sessions: exchange an API key for the prazium_session cookie; log out
(verbs/sessions.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from prazium_api.auth.authn import (
    SESSION_COOKIE,
    client_ip,
    credentials,
    cross_origin,
)
from prazium_api.contract.requests import Login
from prazium_api.contract.responses import LoggedOut, Me, Ok, Session, ok
from prazium_api.routers.deps import Caller, Db, GateDep, Settings
from prazium_api.routers.routing import ApiRouter
from prazium_api.verbs import sessions

router = ApiRouter(tags=["Authentication"])


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
    done = await sessions.login(
        gate,
        database,
        body.apiKey,
        client_ip(request.scope),
        settings.session_ttl_seconds,
        cross_origin=cross_origin(request.scope),
    )
    response.set_cookie(
        SESSION_COOKIE,
        done.token,
        max_age=settings.session_ttl_seconds,
        **_cookie_flags(request, settings),
    )
    return ok(done.answer)


def _cookie_flags(request: Request, settings: Settings) -> dict[str, Any]:
    """Secure whenever the client reached the API over https: TLS here, or at a proxy
    whose X-Forwarded-Proto uvicorn believes (PRAZIUM_FORWARDED_ALLOW_IPS, the
    chart's Ingress), so the browser never sends the session over plain http; always
    with PRAZIUM_SESSION_COOKIE_SECURE (TLS ended by a proxy that is not trusted)."""
    secure = settings.session_cookie_secure or request.url.scheme == "https"
    return {"httponly": True, "samesite": "lax", "secure": secure, "path": "/"}


@router.post(
    "/auth/logout",
    summary="End the session of the prazium_session cookie",
    operation_id="logout",
    response_model=Ok[LoggedOut],
)
def logout(
    request: Request, response: Response, caller: Caller, database: Db, settings: Settings
) -> Ok[LoggedOut]:
    _, session = credentials(request.scope["headers"])
    answer = sessions.logout(database, session)
    response.delete_cookie(SESSION_COOKIE, **_cookie_flags(request, settings))
    return ok(answer)


@router.get(
    "/auth/me", summary="Who the credentials belong to", operation_id="getMe", response_model=Ok[Me]
)
def me(request: Request, caller: Caller) -> Ok[Me]:
    bearer, session = credentials(request.scope["headers"])
    return ok(sessions.me(caller, bearer, session))
