"""Request ids, per-request log context and the access log line.

Every request gets a request id: the client's X-Request-ID when it is a sane token
(1-64 of A-Z a-z 0-9 . _ -), else a new one; the response echoes it in X-Request-ID.
While the request runs, every log line carries requestId, and once the gate has
authenticated the caller, tenant and keyId (never the key, its hash, a cookie or
the Authorization header). When the response is done one access line is logged
(logger prazium_api.access): method, path (never the query string), status,
durationMs, client.
"""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prazium_kit import logs

access_log = logging.getLogger("prazium_api.access")
HEADER = b"x-request-id"
_SANE = re.compile(rb"[A-Za-z0-9._-]{1,64}")


def request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER and _SANE.fullmatch(value):
            return value.decode("ascii")
    return "req_" + secrets.token_hex(8)  # 64 random bits, cheaper than a uuid4


class RequestContextMiddleware:
    """Outermost of the app's middleware (added last)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        # Not reset afterwards: uvicorn runs each request in its own task, and the
        # unhandled-error handler (outside this middleware) logs with this context.
        logs.bind(requestId=rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            elif message["type"] == "websocket.accept":
                status = 101
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            client = scope.get("client")
            access_log.info(
                "%s %s %s",
                scope.get("method", "WS"),
                scope["path"],
                status,
                extra={
                    "method": scope.get("method", "WEBSOCKET"),
                    "path": scope["path"],
                    "status": status,
                    "durationMs": round((time.perf_counter() - started) * 1000, 1),
                    "client": client[0] if client else None,
                },
            )
