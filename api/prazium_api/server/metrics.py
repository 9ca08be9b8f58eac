"""The API's Prometheus metrics, served at /metrics (not under /v1, no credentials).

/metrics tells request counts and durations by route template (never a raw path,
so no id and no tenant appears in a label), open streams and the kit's journal
timings: nothing about any tenant's data. PRAZIUM_METRICS_ENABLED=false removes
the route; a deployment that must not expose it at all keeps the path off its
Ingress (the Prometheus scrape reaches the Pod directly).

Every API process has its own registry: with several replicas, Prometheus scrapes
each Pod (the ServiceMonitor does) and sums.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prazium_kit import metrics as kit_metrics

# From a cache hit (milliseconds) to a long synchronous route or a stream.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

HTTP_SECONDS = Histogram(
    "prazium_http_request_duration_seconds",
    "HTTP requests until their response ended, by method, route template and status"
    " (streams last as long as they are open)",
    ["method", "route", "status"],
    buckets=BUCKETS,
)
SSE_SUBSCRIBERS = Gauge("prazium_sse_subscribers", "Open server-sent event streams")
WEBSOCKET_CONNECTIONS = Gauge("prazium_websocket_connections", "Open WebSocket connections")
WEBSOCKET_SUBSCRIPTIONS = Gauge(
    "prazium_websocket_subscriptions", "Run channels subscribed on open WebSocket connections"
)
LOG_FOLLOWERS = Gauge("prazium_log_followers", "Task logs being followed (follow=true)")

T = TypeVar("T")
kit_metrics.register()  # the journal's, in this process's registry too


async def tracked(gauge: Gauge, stream: AsyncIterator[T]) -> AsyncIterator[T]:
    """stream, counted in gauge while it is consumed (until it ends or is cancelled)."""
    gauge.inc()
    try:
        async for item in stream:
            yield item
    finally:
        gauge.dec()


_FASTAPI_SCOPE = "fastapi"


def route_template(scope: Scope) -> str:
    """The matched route's path template (/v1/projects/{projectId}); "unmatched" for
    a path no route has (a client's typo must not make a label of its own).

    FastAPI (0.16x) records the route it selected, with the path as served (the /v1
    prefix included), in its own dict in the scope, which the middleware created
    beforehand so that it is shared with the scopes routing derives. Plain Starlette
    routes (/metrics, the docs) are matched here again."""
    selected = (scope.get(_FASTAPI_SCOPE) or {}).get("effective_route_context")
    path = getattr(selected, "path_format", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        if isinstance(route, Route) and route.matches(scope)[0] is Match.FULL:
            return route.path_format
    return "unmatched"


class MetricsMiddleware:
    """Times every HTTP request; counts open SSE streams and WebSocket connections."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            WEBSOCKET_CONNECTIONS.inc()
            try:
                await self.app(scope, receive, send)
            finally:
                WEBSOCKET_CONNECTIONS.dec()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault(_FASTAPI_SCOPE, {})  # see route_template
        started = time.perf_counter()
        status = 500
        streaming = False

        async def observe(message: Message) -> None:
            nonlocal status, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers") or []).get(b"content-type", b"")
                if content_type.startswith(b"text/event-stream"):
                    streaming = True
                    SSE_SUBSCRIBERS.inc()
            await send(message)

        try:
            await self.app(scope, receive, observe)
        finally:
            if streaming:
                SSE_SUBSCRIBERS.dec()
            HTTP_SECONDS.labels(
                scope.get("method", "GET"), route_template(scope), str(status)
            ).observe(time.perf_counter() - started)


async def metrics_endpoint(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
