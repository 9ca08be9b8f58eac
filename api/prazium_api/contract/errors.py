"""The contract's error envelope, and the handlers that make every error use it.

{"success": false, "error": {"code", "message", "details"}}; a code always
comes with the HTTP status the contract's table gives it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from prazium_kit import logs
from prazium_kit.types import JsonObject

log = logging.getLogger(__name__)

STATUS_BY_CODE = {
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "VALIDATION_ERROR": 400,
    "CONFLICT": 409,
    "RATE_LIMITED": 429,
    "INTERNAL_ERROR": 500,
}


class ApiError(Exception):
    """Raised anywhere in a request; rendered as the envelope with its status."""

    def __init__(
        self,
        code: str,
        message: str,
        details: JsonObject | None = None,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or STATUS_BY_CODE[code]
        self.headers = headers


def envelope(code: str, message: str, details: JsonObject | None = None) -> JsonObject:
    return {"success": False, "error": {"code": code, "message": message, "details": details or {}}}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        envelope(error.code, error.message, error.details),
        status_code=error.status,
        headers=error.headers,
    )


def not_found(what: str, details: JsonObject | None = None) -> ApiError:
    return ApiError("NOT_FOUND", f"{what} not found", details)


def conflict(message: str, details: JsonObject | None = None) -> ApiError:
    return ApiError("CONFLICT", message, details)


def invalid(message: str, field: str | None = None, **details: Any) -> ApiError:
    if field is not None:
        details["fields"] = [{"field": field, "message": message}]
    return ApiError("VALIDATION_ERROR", message, details)


def operator_timeout(what: str, seconds: float, **details: Any) -> ApiError:
    """The spec change is recorded in the CR; the operator did not confirm it in time.
    details name what was recorded (e.g. the runId to poll)."""
    return ApiError(
        "INTERNAL_ERROR",
        f"the operator did not {what} within {seconds:g} s; the request is recorded and"
        " will be processed when the operator catches up - retry or poll with GET",
        {"reason": "OPERATOR_TIMEOUT", "recorded": True, **details},
    )


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _invalid_fields(exc: RequestValidationError) -> list[dict[str, str]]:
    fields = []
    for err in exc.errors():
        loc = err.get("loc", ())
        fields.append(
            {
                "field": _field_name(loc),
                "location": str(loc[0]) if loc else "body",
                "message": err.get("msg", "invalid"),
            }
        )
    return fields


def install(
    app: FastAPI,
    check_first: Callable[[Request], Awaitable[JSONResponse | None]] | None = None,
) -> None:
    """check_first: for errors raised before a route's dependencies ran (unknown
    route, unreadable body), a response that takes precedence (e.g. 401) or None."""

    async def _refusal(request: Request) -> JSONResponse | None:
        return await check_first(request) if check_first is not None else None

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if (refused := await _refusal(request)) is not None:
            return refused
        fields = _invalid_fields(exc)
        names = ", ".join(sorted({f["field"] for f in fields}))
        return JSONResponse(
            envelope("VALIDATION_ERROR", f"invalid request: {names}", {"fields": fields}),
            status_code=400,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if (refused := await _refusal(request)) is not None:
            return refused
        if exc.status_code == 404:
            return JSONResponse(envelope("NOT_FOUND", f"no route {request.url.path}"), 404)
        if exc.status_code == 405:
            # 405 is not in the contract's table: a method a path does not serve
            # is a resource that does not exist; Allow still says what does.
            headers = dict(exc.headers or {})
            return JSONResponse(
                envelope("NOT_FOUND", f"no route {request.method} {request.url.path}"),
                404,
                headers=headers,
            )
        code = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 409: "CONFLICT", 429: "RATE_LIMITED"}.get(
            exc.status_code, "VALIDATION_ERROR"
        )
        status = STATUS_BY_CODE[code] if exc.status_code >= 500 else exc.status_code
        if exc.status_code >= 500:
            code, status = "INTERNAL_ERROR", 500
        return JSONResponse(
            envelope(code, str(exc.detail)), status_code=status, headers=dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        log.exception("unhandled error, reference %s", reference, exc_info=exc)
        return JSONResponse(
            envelope(
                "INTERNAL_ERROR",
                f"internal error (reference {reference})",
                {"reference": reference},
            ),
            status_code=500,
            # This handler runs outside the middleware, which cannot add the header.
            headers={"X-Request-ID": rid} if (rid := logs.context().get("requestId")) else None,
        )
