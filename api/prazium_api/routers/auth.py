"""Web UI sessions: exchange an API key for the prazium_session cookie; log out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from prazium_api import db, keys
from prazium_api.deps import Caller, ok
from prazium_api.errors import ApiError
from prazium_api.middleware import SESSION_COOKIE, credentials
from prazium_api.models import Login
from prazium_api.settings import get_api_settings

router = APIRouter(tags=["auth"])


@router.post("/auth/login", summary="Exchange an API key for a session cookie")
def login(body: Login, response: Response) -> dict[str, Any]:
    settings = get_api_settings()
    with db.connection() as conn:
        principal = keys.principal_for_key(conn, body.apiKey)
        if principal is None:
            raise ApiError("UNAUTHORIZED", "invalid or revoked API key")
        token, expires_at = keys.create_session(conn, principal.key_id,
                                                settings.session_ttl_seconds)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.session_ttl_seconds, httponly=True,
        samesite="lax", secure=settings.session_cookie_secure, path="/",
    )
    return ok({"keyId": principal.key_id, "tenant": principal.tenant, "tier": principal.tier,
               "expiresAt": expires_at.isoformat().replace("+00:00", "Z")})


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
