"""The API's log: one JSON object per line, request ids, tenant and key id, no secrets."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from prazium_api.auth.keys import create_key
from tests.support.services import Stack, start_api

pytestmark = pytest.mark.integration


def _lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"line {number} of the API log is not JSON: {line!r}")
        assert isinstance(record, dict), line
        assert {"timestamp", "level", "logger", "message"} <= record.keys(), line
        out.append(record)
    return out


def test_api_log_lines_are_json_with_request_id_tenant_and_key_id(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        key_id, key = create_key(conn, namespace, "free")
    proc, base = start_api(stack, data_dir, tmp_path / "logs", PRAZIUM_RATE_LIMIT_FREE="3")
    bad_key = "pzm_" + uuid.uuid4().hex
    session = "sess" + uuid.uuid4().hex
    try:
        with httpx.Client(
            base_url=f"{base}/v1", timeout=30, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            created = http.post(
                "/projects",
                headers={"X-Request-ID": "test-req-123"},
                json={"name": "Logged", "description": "A logged project."},
            )
            assert created.status_code == 201, created.text
            assert created.headers["x-request-id"] == "test-req-123"
            # An id that is not a sane token is replaced by a generated one.
            listed = http.get(
                "/projects",
                params={"search": "querysecret"},
                headers={"X-Request-ID": 'bad id" injected'},
            )
            assert listed.status_code == 200
            generated = listed.headers["x-request-id"]
            assert re.fullmatch(r"req_[0-9a-f]{16}", generated), generated
            limited = None
            for _ in range(10):  # over the free tier's 3 a minute: the gate logs it
                response = http.get("/projects")
                if response.status_code == 429:
                    limited = response.headers["x-request-id"]
                    break
            assert limited, "never rate limited"
        refused = httpx.get(
            f"{base}/v1/projects",
            headers={"Authorization": f"Bearer {bad_key}", "Cookie": f"prazium_session={session}"},
        )
        assert refused.status_code == 401 and refused.headers["x-request-id"]
    finally:
        proc.stop()

    text = proc.log_path.read_text()
    for secret in (key, bad_key, session, "Bearer", "querysecret"):
        assert secret not in text, f"{secret[:8]}... is in the API log"
    records = _lines(proc.log_path)
    assert any(r["logger"].startswith("uvicorn.error") for r in records)  # uvicorn's own

    mine = [r for r in records if r.get("requestId") == "test-req-123"]
    assert mine and all(r["tenant"] == namespace and r["keyId"] == key_id for r in mine)
    access = [r for r in mine if r["logger"] == "prazium_api.access"]
    assert len(access) == 1
    assert access[0]["method"] == "POST" and access[0]["path"] == "/v1/projects"
    assert access[0]["status"] == 201 and access[0]["client"] == "127.0.0.1"
    assert isinstance(access[0]["durationMs"], int | float)

    listing = [r for r in records if r.get("requestId") == generated]
    assert [r["path"] for r in listing] == ["/v1/projects"]  # no query string
    # A line the app logs during a request (the gate's rate-limit notice) names it too.
    notice = [
        r
        for r in records
        if r.get("requestId") == limited and r["logger"] == "prazium_api.auth.authn"
    ]
    assert notice and notice[0]["tenant"] == namespace and notice[0]["keyId"] == key_id
    assert key_id in notice[0]["message"]
    # A refused request has a request id and no tenant.
    failed = [
        r for r in records if r.get("logger") == "prazium_api.access" and r.get("status") == 401
    ]
    assert failed and "tenant" not in failed[0] and failed[0]["requestId"]
