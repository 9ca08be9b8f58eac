"""ASGI middleware: request body limit, authentication and per-key rate limits.

Authentication happens here (not only in a dependency) so that every response
to an authenticated request - errors and unknown routes included - carries the
X-RateLimit-* headers, and so that a request over its budget is refused before
any route runs. Routes read the caller from scope["state"]["principal"].
"""

from __future__ import annotations

import json
import logging
from http.cookies import SimpleCookie
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prazium_api import gate, ratelimit
from prazium_api.errors import ApiError, envelope
from prazium_api.settings import get_api_settings
from prazium_kit import logs

log = logging.getLogger(__name__)

SESSION_COOKIE = "prazium_session"
# Paths anyone may call: probes, the API description, logging in.
PUBLIC_PATHS = frozenset({
    "/health", "/v1/health", "/v1/openapi.json", "/v1/docs", "/v1/docs/oauth2-redirect",
    "/v1/auth/login",
})


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


def client_ip(scope: Scope) -> str:
    """The TCP peer (uvicorn runs without proxy headers)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def rate_limited(verdict: ratelimit.Verdict, what: str) -> dict[str, Any]:
    return envelope("RATE_LIMITED", f"rate limit of {verdict.limit} {what} per minute"
                    f" exceeded; retry after {verdict.retry_after} s",
                    {"limit": verdict.limit, "retryAfter": verdict.retry_after})


async def _send_json(send: Send, status: int, body: dict[str, Any],
                     extra: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


class BodyTooLarge(HTTPException):
    """Raised while the body streams in (no Content-Length); FastAPI re-raises an
    HTTPException from body parsing as is, and errors.install renders it as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class ApiGateMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_api_settings()
        limit = settings.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_json(send, 413, envelope(
                    "VALIDATION_ERROR", f"request body larger than {limit} bytes",
                    {"maxBytes": limit}))
                return

        path: str = scope["path"]
        extra_headers: list[tuple[bytes, bytes]] = []
        if path not in PUBLIC_PATHS:
            bearer, session = credentials(scope["headers"])
            if not bearer and not session:
                await _send_json(send, 401, envelope(
                    "UNAUTHORIZED", "missing credentials: send Authorization: Bearer pzm_..."
                    " or the prazium_session cookie"), [(b"www-authenticate", b"Bearer")])
                return
            try:
                outcome = await gate.check(bearer, session, client_ip(scope))
            except ApiError as exc:
                await _send_json(send, exc.status, envelope(exc.code, exc.message))
                return
            principal, verdict = outcome.principal, outcome.verdict
            if principal is None:
                if outcome.limited:
                    assert verdict is not None
                    await _send_json(send, 429, rate_limited(
                        verdict, "failed credential checks from this address"),
                        [*verdict.headers(), (b"retry-after", str(verdict.retry_after).encode())])
                    return
                await _send_json(send, 401, envelope(
                    "UNAUTHORIZED", "invalid or revoked API key or session"),
                    [(b"www-authenticate", b"Bearer")])
                return
            assert verdict is not None
            # Every later line of this request names the caller (requestlog.py).
            logs.context().update(tenant=principal.tenant, keyId=principal.key_id)
            extra_headers = verdict.headers()
            if not verdict.allowed:
                log.info("rate limited key %s (tier %s)", principal.key_id, principal.tier)
                await _send_json(send, 429, rate_limited(verdict, "requests"),
                                 [*extra_headers,
                                  (b"retry-after", str(verdict.retry_after).encode())])
                return
            scope.setdefault("state", {})["principal"] = principal

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if extra_headers:
                    message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_headers)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, envelope(
                    "VALIDATION_ERROR", f"request body larger than {limit} bytes",
                    {"maxBytes": limit}), extra_headers)
