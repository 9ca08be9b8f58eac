"""ASGI middleware: the request body limit, and the X-RateLimit-* headers.

The body limit is middleware (not a dependency) because it must hold before
anything reads the body: a declared Content-Length over the limit is refused at
once, and a body without one is counted while it streams in. Authentication and
the rate limit itself are a dependency (authn.authenticate); the headers are
added here so every response to a counted request carries them - errors, 429s
and unknown routes included.
"""

from __future__ import annotations

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prazium_api.auth import ratelimit
from prazium_api.auth.authn import VERDICT
from prazium_api.contract.errors import envelope
from prazium_kit.types import JsonObject


async def _send_json(send: Send, status: int, body: JsonObject) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def too_large(limit: int) -> JsonObject:
    return envelope(
        "VALIDATION_ERROR", f"request body larger than {limit} bytes", {"maxBytes": limit}
    )


class BodyTooLarge(HTTPException):
    """Raised while the body streams in (no Content-Length); FastAPI re-raises an
    HTTPException from body parsing as is, and errors.install renders it as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.limit = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_json(send, 413, too_large(limit))
                return
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

        async def watch_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watch_start)
        except BodyTooLarge:  # read outside FastAPI's body parsing
            if not started:
                await _send_json(send, 413, too_large(limit))


class RateLimitHeadersMiddleware:
    """X-RateLimit-* of the verdict authn.authenticate recorded for this request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                verdict = scope.get("state", {}).get(VERDICT)
                if isinstance(verdict, ratelimit.Verdict):
                    message["headers"] = [*message.get("headers", []), *verdict.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)
