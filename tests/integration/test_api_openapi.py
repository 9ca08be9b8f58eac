"""The published OpenAPI document describes every operation fully: a unique
camelCase operationId and a contract section (tag) each, a typed schema for every
2xx body, the error envelope for the contract's error statuses, and the
X-RateLimit-* headers of counted requests."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration

METHODS = {"get", "post", "put", "patch", "delete"}
CONTRACT_SECTIONS = {
    "Authentication",
    "Projects",
    "Spec Generation",
    "Builds",
    "Tasks",
    "Events",
    "Export",
    "Deployment",
    "Files",
    "System",
}
# The contract's operations, by the ids clients generate code from.
CONTRACT_OPERATIONS = {
    ("post", "/v1/projects"): "createProject",
    ("get", "/v1/projects"): "listProjects",
    ("get", "/v1/projects/{projectId}"): "getProject",
    ("patch", "/v1/projects/{projectId}"): "updateProject",
    ("delete", "/v1/projects/{projectId}"): "deleteProject",
    ("post", "/v1/projects/{projectId}/clarify"): "getClarifyingQuestions",
    ("post", "/v1/projects/{projectId}/answers"): "submitAnswers",
    ("post", "/v1/projects/{projectId}/approve"): "approveSpec",
    ("post", "/v1/projects/{projectId}/regenerate"): "regenerateSpec",
    ("post", "/v1/projects/{projectId}/runs"): "createRun",
    ("get", "/v1/projects/{projectId}/runs"): "listRuns",
    ("get", "/v1/projects/{projectId}/runs/{runId}"): "getRun",
    ("post", "/v1/projects/{projectId}/runs/{runId}/cancel"): "cancelRun",
    ("post", "/v1/projects/{projectId}/runs/{runId}/retry"): "retryRun",
    ("get", "/v1/projects/{projectId}/runs/{runId}/tasks"): "listTasks",
    ("get", "/v1/projects/{projectId}/runs/{runId}/tasks/{taskId}"): "getTask",
    ("get", "/v1/projects/{projectId}/runs/{runId}/tasks/{taskId}/logs"): "getTaskLogs",
    ("get", "/v1/projects/{projectId}/runs/{runId}/verification/logs"): "getVerificationLogs",
    ("get", "/v1/projects/{projectId}/runs/{runId}/events"): "listEvents",
    ("get", "/v1/projects/{projectId}/runs/{runId}/events/stream"): "streamEvents",
    ("post", "/v1/projects/{projectId}/export"): "createExport",
    ("get", "/v1/projects/{projectId}/exports/{exportId}"): "getExport",
    ("get", "/v1/projects/{projectId}/exports/{exportId}/download"): "downloadExport",
    ("post", "/v1/projects/{projectId}/deploy"): "createDeployment",
    ("get", "/v1/projects/{projectId}/deployments/{deploymentId}"): "getDeployment",
    ("get", "/v1/projects/{projectId}/files"): "listFiles",
    ("get", "/v1/projects/{projectId}/files/{filePath}"): "getFile",
    ("get", "/v1/health"): "getHealth",
    ("get", "/v1/admin/stats"): "getSystemStats",
}
# Bodies that are not JSON, and their media types.
NON_JSON = {
    "streamEvents": {"text/event-stream"},
    "downloadExport": {"application/zip", "application/gzip"},
    "gitInfoRefs": {"application/x-git-upload-pack-advertisement"},
    "gitUploadPack": {"application/x-git-upload-pack-result"},
    "getTaskLogs": {"text/plain"},
    "getVerificationLogs": {"text/plain"},
}
RATE_HEADERS = {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        *_, section, name = schema["$ref"].split("/")
        schema = doc["components"][section][name]
    return schema


def _typed(doc: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    """A typed object (with its properties, each typed), not an empty or any schema."""
    resolved = _resolve(doc, schema)
    assert resolved.get("type") == "object", f"{where}: not an object: {resolved}"
    properties = resolved.get("properties") or {}
    assert properties, f"{where}: no properties"
    for name, declared in properties.items():
        prop = _resolve(doc, declared)
        assert prop and any(k in prop for k in ("type", "anyOf", "enum", "const", "$ref")), (
            f"{where}.{name}: untyped {prop}"
        )


def test_every_operation_has_an_id_a_tag_and_typed_responses(api: str) -> None:
    doc = httpx.get(f"{api}/v1/openapi.json").json()
    assert {t["name"] for t in doc["tags"]} == CONTRACT_SECTIONS
    seen: dict[str, str] = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            op_id = operation.get("operationId")
            assert op_id and re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)+|[a-z]+", op_id), where
            assert op_id not in seen, f"{where}: operationId {op_id} also on {seen[op_id]}"
            seen[op_id] = where
            tags = operation.get("tags") or []
            assert len(tags) == 1 and tags[0] in CONTRACT_SECTIONS, f"{where}: tags {tags}"
            responses = operation["responses"]
            successes = {s: r for s, r in responses.items() if s.startswith("2")}
            assert successes, f"{where}: no 2xx response"
            for status, response in successes.items():
                content = response.get("content") or {}
                assert content, f"{where} {status}: no body described"
                if op_id in NON_JSON:
                    assert set(content) == NON_JSON[op_id], f"{where}: {set(content)}"
                    for media in content.values():
                        assert media["schema"]["type"] == "string", where
                    continue
                assert set(content) == {"application/json"}, f"{where}: {set(content)}"
                _typed(doc, content["application/json"]["schema"], f"{where} {status}")
            for status in ("400", "404", "500"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema["$ref"].endswith("/ErrorEnvelope"), f"{where} {status}"
            if path == "/v1/health":
                continue
            for status in ("401", "429"):
                assert status in responses, f"{where}: {status} not documented"
            for status, response in successes.items():
                assert set(response.get("headers") or {}) >= RATE_HEADERS, f"{where} {status}"
            assert "Retry-After" in responses["429"]["headers"], where
            # While PostgreSQL is down every credential check answers 503 + Retry-After.
            assert "Retry-After" in responses["503"]["headers"], f"{where}: 503 not documented"
            schema = responses["503"]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorEnvelope"), f"{where} 503"
            if "requestBody" in operation:
                assert "413" in responses, f"{where}: 413 not documented"
            if method != "get" and not path.startswith("/v1/auth/"):
                assert "409" in responses, f"{where}: 409 not documented"
    assert "403" in doc["paths"]["/v1/admin/stats"]["get"]["responses"]
    for (method, path), op_id in CONTRACT_OPERATIONS.items():
        assert doc["paths"][path][method]["operationId"] == op_id, (method, path)
    # The error envelope is a typed object too.
    _typed(doc, {"$ref": "#/components/schemas/ErrorEnvelope"}, "ErrorEnvelope")
