"""Web UI sessions: exchange an API key for the prazium_session cookie; log out."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request, Response

from prazium_api import db, gate, keys
from prazium_api.deps import Caller, ok
from prazium_api.errors import ApiError
from prazium_api.middleware import SESSION_COOKIE, client_ip, credentials, rate_limited
from prazium_api.models import Login
from prazium_api.settings import get_api_settings
from prazium_kit.timefmt import iso_z

router = APIRouter(tags=["auth"])


def _create_session(key_id: str, ttl_seconds: int) -> tuple[str, Any]:
    with db.connection() as conn:
        return keys.create_session(conn, key_id, ttl_seconds)


@router.post("/auth/login", summary="Exchange an API key for a session cookie",
             description="Failed attempts are limited per client address"
             " (PRAZIUM_AUTH_FAILURES_PER_MINUTE, shared by replicas): past the limit"
             " every attempt answers 429 RATE_LIMITED until the minute ends, without"
             " looking at the key. A login also counts as a request of the key.")
async def login(body: Login, request: Request, response: Response) -> dict[str, Any]:
    settings = get_api_settings()
    outcome = await gate.login_attempt(body.apiKey, client_ip(request.scope))
    verdict, principal = outcome.verdict, outcome.principal
    if verdict is not None and not verdict.allowed:
        what = "requests" if principal else "failed credential checks from this address"
        error = rate_limited(verdict, what)["error"]
        raise ApiError("RATE_LIMITED", error["message"], error["details"], headers={
            "retry-after": str(verdict.retry_after),
            **{k.decode(): v.decode() for k, v in verdict.headers()}})
    if principal is None:
        raise ApiError("UNAUTHORIZED", "invalid or revoked API key")
    token, expires_at = await anyio.to_thread.run_sync(
        _create_session, principal.key_id, settings.session_ttl_seconds)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.session_ttl_seconds, httponly=True,
        samesite="lax", secure=settings.session_cookie_secure, path="/",
    )
    return ok({"keyId": principal.key_id, "tenant": principal.tenant, "tier": principal.tier,
               "expiresAt": iso_z(expires_at)})


@router.post("/auth/logout", summary="End the session of the prazium_session cookie")
def logout(request: Request, response: Response, caller: Caller) -> dict[str, Any]:
    _, session = credentials(request.scope["headers"])
    if session:
        with db.connection() as conn:
            keys.delete_session(conn, session)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return ok({"loggedOut": True})


@router.get("/auth/me", summary="Who the credentials belong to")
def me(caller: Caller) -> dict[str, Any]:
    return ok({"keyId": caller.key_id, "tenant": caller.tenant, "tier": caller.tier,
               "admin": caller.is_admin})
