"""The published OpenAPI document: FastAPI's, with the contract's error envelope
in place of FastAPI's 422 validation schema, the error statuses each operation
can answer, and the X-RateLimit-* headers of every counted request."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA = {
    "type": "object",
    "required": ["success", "error"],
    "properties": {
        "success": {"type": "boolean", "enum": [False]},
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {
                    "type": "string",
                    "enum": [
                        "UNAUTHORIZED",
                        "FORBIDDEN",
                        "NOT_FOUND",
                        "VALIDATION_ERROR",
                        "CONFLICT",
                        "RATE_LIMITED",
                        "INTERNAL_ERROR",
                    ],
                },
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        },
    },
}
_ERRORS = {
    "400": "Invalid request data (VALIDATION_ERROR)",
    "401": "Missing or invalid authentication (UNAUTHORIZED)",
    "403": "Insufficient permissions (FORBIDDEN)",
    "404": "Resource not found (NOT_FOUND)",
    "409": "Resource state conflict (CONFLICT)",
    "413": "Request body larger than the limit (VALIDATION_ERROR, details.maxBytes)",
    "429": "Too many requests (RATE_LIMITED); Retry-After says when to try again",
    "500": "Server error (INTERNAL_ERROR)",
    "503": "The database is unavailable (INTERNAL_ERROR, details.reason"
    " DATABASE_UNAVAILABLE); Retry-After says when to try again",
}
_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
# No credentials, no rate limit (login has both: it checks a key, and failed
# attempts spend the client address's budget).
PUBLIC = {"/v1/health"}
_RATE_HEADERS = {
    "X-RateLimit-Limit": "Requests per minute of the key's tier",
    "X-RateLimit-Remaining": "Requests left in the current one-minute window",
    "X-RateLimit-Reset": "When the window ends (Unix epoch seconds)",
}
# The contract's sections, in its order.
TAGS = [
    {
        "name": "Authentication",
        "description": "Web UI sessions (API keys: Authorization:"
        " Bearer pzm_...; sessions: the prazium_session cookie)",
    },
    {"name": "Projects", "description": "Create, list, get, update and archive projects"},
    {
        "name": "Spec Generation",
        "description": "Clarifying questions, answers, the spec"
        " documents, approval and regeneration",
    },
    {"name": "Builds", "description": "Runs: start, list, get, cancel, retry"},
    {"name": "Tasks", "description": "A run's tasks"},
    {"name": "Events", "description": "A run's event journal, listed or streamed (SSE)"},
    {"name": "Export", "description": "Archives of a run's merged code"},
    {"name": "Deployment", "description": "Preview deployments"},
    {"name": "Files", "description": "The project repository, read-only"},
    {"name": "System", "description": "Health and statistics"},
]
DESCRIPTION = (
    "Prazium /v1 REST API. Every error answers the envelope {success: false, error: {code,"
    " message, details}}. Every authenticated response carries X-RateLimit-Limit,"
    " X-RateLimit-Remaining and X-RateLimit-Reset. Live run events are also served over"
    " the WebSocket /v1/ws (messages auth, subscribe, unsubscribe, ping). An id in a path"
    " is letters, digits, '_' and '-', at most 128 characters; any other answers 400"
    " VALIDATION_ERROR."
)


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer."""
    statuses = ["400", "404", "500"]
    if path not in PUBLIC:
        statuses += ["401", "429", "503"]  # checking credentials needs the database
    if path.startswith("/v1/admin/"):
        statuses.append("403")
    if (method != "get" or path.endswith("/download")) and not path.startswith("/v1/auth/"):
        statuses.append("409")
    if "requestBody" in operation:
        statuses.append("413")
    return sorted(statuses)


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(
        title=app.title, version=app.version, routes=app.routes, description=DESCRIPTION, tags=TAGS
    )
    doc["servers"] = [{"url": "/"}]
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["ErrorEnvelope"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    headers = components.setdefault("headers", {})
    for name, description in _RATE_HEADERS.items():
        headers[name] = {"description": description, "schema": {"type": "integer"}}
    headers["Retry-After"] = {
        "description": "Seconds to wait before trying again (429: until the window ends)",
        "schema": {"type": "integer"},
    }
    rate_headers = {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_HEADERS}
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in _statuses(path, method, operation):
                responses.setdefault(
                    status,
                    {
                        "description": _ERRORS[status],
                        "content": {"application/json": {"schema": _REF}},
                    },
                )
            if path in PUBLIC:
                continue
            for status, response in responses.items():
                if status in ("401", "503"):
                    if status == "503":
                        response.setdefault("headers", {})["Retry-After"] = {
                            "$ref": "#/components/headers/Retry-After"
                        }
                    continue  # not counted: no key (401) or no database (503) to count
                response.setdefault("headers", {}).update(rate_headers)
                if status == "429":
                    response["headers"]["Retry-After"] = {
                        "$ref": "#/components/headers/Retry-After"
                    }
    return doc
