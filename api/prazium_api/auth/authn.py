"""Authentication and the per-key rate limit as a route dependency (deps.Caller).

authenticate() checks the credentials of a request once (the gate counts it
against the key's budget, or a failed check against the budget of those
credentials from the client address), and
records the verdict in the request's state: middleware.RateLimitHeadersMiddleware
puts X-RateLimit-* on whatever response follows, errors included. A request over
its budget is refused before the route runs.

Errors raised before a route's dependencies run (an unknown route or method, a
body that is not JSON or is too large) go through refuse_unauthenticated() first,
so those requests are checked and counted too, and a caller without valid
credentials gets 401 (or 429) there as everywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from http.cookies import SimpleCookie
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import Scope

from prazium_api.auth import ratelimit
from prazium_api.auth.gate import Gate
from prazium_api.auth.keys import Principal
from prazium_api.contract.errors import ApiError, error_response
from prazium_kit import logs

log = logging.getLogger(__name__)

SESSION_COOKIE = "prazium_session"
# Cookie-authenticated writes carry this header (the browser attaches the cookie to
# requests other sites trigger; only a page of ours can read the token to send it).
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths anyone may call: probes, the API description, logging in.
PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/livez",
        "/readyz",
        "/v1/health",
        "/v1/openapi.json",
        "/v1/docs",
        "/v1/docs/oauth2-redirect",
        "/v1/redoc",
        "/v1/auth/login",
    }
)
# Where authenticate() leaves its result: the principal, or the ApiError it raised.
_RESULT = "gate_result"
VERDICT = "ratelimit"  # the verdict whose X-RateLimit-* headers the response carries

# Declared for the OpenAPI document (security schemes); the header and cookie are
# read from the raw headers below, as the WebSocket handshake reads them.
_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer pzm_...")
_cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False)


def credentials(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """(bearer key, session token) from the request headers."""
    bearer = session = None
    for name, value in headers:
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() == "bearer ":
                bearer = text[7:].strip()
        elif name == b"cookie":
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header is simply no session
                continue
            if SESSION_COOKIE in cookie:
                session = cookie[SESSION_COOKIE].value
    return bearer, session


def csrf_token(session: str) -> str:
    """The CSRF token of a session: derived from its secret token (one way), so it
    needs no storage and a site that can plant cookies cannot forge a matching pair."""
    digest = hashlib.sha256(b"prazium-csrf:" + session.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


def cross_origin(scope: Scope) -> bool:
    """True when the request names an Origin other than the host it was sent to
    (browsers send Origin on every cross-origin request and on same-origin writes)."""
    origin = _header(scope, b"origin")
    if origin is None:
        return False
    host = _header(scope, b"host")
    return origin == "null" or host is None or urlsplit(origin).netloc.lower() != host.lower()


def check_csrf(scope: Scope, session: str) -> None:
    """A write authenticated by the session cookie alone: the same origin and the
    session's X-CSRF-Token, or 403."""
    if scope.get("method", "GET") in _SAFE_METHODS:
        return
    sent = _header(scope, CSRF_HEADER.encode()) or ""
    if cross_origin(scope) or not hmac.compare_digest(sent, csrf_token(session)):
        raise ApiError(
            "FORBIDDEN",
            "a write authenticated by the session cookie needs the X-CSRF-Token header"
            " (csrfToken of /v1/auth/login or /v1/auth/me) from the same origin",
        )


def client_ip(scope: Scope) -> str:
    """The TCP peer, or the client a trusted proxy named in X-Forwarded-For (uvicorn
    rewrites scope["client"] only for PRAZIUM_FORWARDED_ALLOW_IPS)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def rate_limited_error(verdict: ratelimit.Verdict, what: str) -> ApiError:
    """429 RATE_LIMITED: what was counted (requests, failed checks), the limit per
    minute, and when to try again (details.retryAfter and the Retry-After header)."""
    return ApiError(
        "RATE_LIMITED",
        f"rate limit of {verdict.limit} {what} per minute"
        f" exceeded; retry after {verdict.retry_after} s",
        {"limit": verdict.limit, "retryAfter": verdict.retry_after},
        headers={"retry-after": str(verdict.retry_after)},
    )


def _unauthorized(message: str) -> ApiError:
    return ApiError("UNAUTHORIZED", message, headers={"www-authenticate": "Bearer"})


async def authenticate(
    request: Request,
    _token: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    _session: Annotated[str | None, Depends(_cookie)] = None,
) -> Principal:
    """The caller of this request, checked and counted once per request."""
    state = request.scope.setdefault("state", {})
    if _RESULT in state:
        result = state[_RESULT]
        if isinstance(result, ApiError):
            raise result
        assert isinstance(result, Principal)
        return result
    try:
        principal = await _check(request, state)
    except ApiError as exc:
        state[_RESULT] = exc
        raise
    state[_RESULT] = principal
    return principal


async def _check(request: Request, state: dict[str, object]) -> Principal:
    bearer, session = credentials(request.scope["headers"])
    if not bearer and not session:
        raise _unauthorized(
            "missing credentials: send Authorization: Bearer pzm_... or the prazium_session cookie"
        )
    gate: Gate = request.app.state.gate
    outcome = await gate.check(bearer, session, client_ip(request.scope))
    principal, verdict = outcome.principal, outcome.verdict
    if principal is None:
        if outcome.limited:
            assert verdict is not None
            state[VERDICT] = verdict
            raise rate_limited_error(verdict, "failed checks of this credential from this address")
        raise _unauthorized("invalid or revoked API key or session")
    assert verdict is not None
    if not bearer and session:
        check_csrf(request.scope, session)
    # Every later line of this request names the caller (server/requestlog.py).
    logs.context().update(tenant=principal.tenant, keyId=principal.key_id)
    state[VERDICT] = verdict
    if not verdict.allowed:
        log.info("rate limited key %s (tier %s)", principal.key_id, principal.tier)
        raise rate_limited_error(verdict, "requests")
    return principal


async def refuse_unauthenticated(request: Request) -> JSONResponse | None:
    """For an error raised before a route's dependencies ran: the error response of
    the credential check when it fails (401/429/500), else None."""
    if request.scope["type"] != "http" or request.scope["path"] in PUBLIC_PATHS:
        return None
    try:
        await authenticate(request)
    except ApiError as exc:
        return error_response(exc)
    return None
