"""The published OpenAPI document: FastAPI's, with the contract's error envelope
in place of FastAPI's 422 validation schema."""

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
                "code": {"type": "string", "enum": [
                    "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "VALIDATION_ERROR", "CONFLICT",
                    "RATE_LIMITED", "INTERNAL_ERROR"]},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        },
    },
}
_ERRORS = {
    "400": "Invalid request data (VALIDATION_ERROR)",
    "401": "Missing or invalid authentication (UNAUTHORIZED)",
    "404": "Resource not found (NOT_FOUND)",
    "429": "Too many requests (RATE_LIMITED)",
    "500": "Server error (INTERNAL_ERROR)",
}
_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
# No credentials, no rate limit (login has both: it checks a key, and failed
# attempts spend the client address's budget).
PUBLIC = {"/v1/health"}


def build(app: FastAPI) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                      description="Prazium /v1 REST API. Every error answers the envelope"
                      " {success: false, error: {code, message, details}}.")
    doc["servers"] = [{"url": "/"}]
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorEnvelope"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status, description in _ERRORS.items():
                if path in PUBLIC and status in ("401", "429"):
                    continue
                responses.setdefault(status, {
                    "description": description,
                    "content": {"application/json": {"schema": _REF}},
                })
    return doc
