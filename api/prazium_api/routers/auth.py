"""Web UI sessions: exchange an API key for the prazium_session cookie; log out
(verbs/sessions.py)."""

from __future__ import annotations

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
    _set_cookie(response, done.token, settings)
    return ok(done.answer)


def _set_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.session_cookie_secure,
        path="/",
    )


@router.post(
    "/auth/logout",
    summary="End the session of the prazium_session cookie",
    operation_id="logout",
    response_model=Ok[LoggedOut],
)
def logout(request: Request, response: Response, caller: Caller, database: Db) -> Ok[LoggedOut]:
    _, session = credentials(request.scope["headers"])
    answer = sessions.logout(database, session)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return ok(answer)


@router.get(
    "/auth/me", summary="Who the credentials belong to", operation_id="getMe", response_model=Ok[Me]
)
def me(request: Request, caller: Caller) -> Ok[Me]:
    bearer, session = credentials(request.scope["headers"])
    return ok(sessions.me(caller, bearer, session))
