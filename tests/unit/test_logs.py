"""The log formatter: JSON fields, bound context, masked secrets; request ids."""

from __future__ import annotations

import json
import logging

from prazium_api.server.requestlog import request_id
from prazium_kit import logs


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("prazium.test", logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_context_and_extra_and_mask_keys() -> None:
    logs.bind(requestId="r-1", tenant="t1", keyId="key_1")
    line = json.loads(
        logs.JsonFormatter().format(
            _record("key %s via /v1/ws?token=abc&page=2", "pzm_SECRET-value_1", status=200)
        )
    )
    assert line["level"] == "INFO" and line["logger"] == "prazium.test"
    assert line["timestamp"].endswith("Z")
    assert line["message"] == "key pzm_*** via /v1/ws?token=***&page=2"
    assert (line["requestId"], line["tenant"], line["keyId"], line["status"]) == (
        "r-1",
        "t1",
        "key_1",
        200,
    )
    text = logs.TextFormatter().format(_record("hello"))
    assert text.endswith("hello [requestId=r-1 tenant=t1 keyId=key_1]")
    logs.bind()


def test_kopf_records_keep_their_object_under_the_one_level_key() -> None:
    record = _record("handler done", k8s_ref={"namespace": "t1", "name": "p"}, k8s_skip=False)
    line = json.loads(logs.JsonFormatter().format(record))
    assert line[logs.LEVEL_KEY] == "INFO" and "severity" not in line
    assert line["object"] == {"namespace": "t1", "name": "p"}
    assert "k8s_ref" not in line and "k8s_skip" not in line


def test_request_id_honours_sane_tokens_only() -> None:
    assert request_id({"headers": [(b"x-request-id", b"abc-123.X_y")]}) == "abc-123.X_y"
    for bad in (b"", b"has space", b"x" * 65, b'quote"', b"new\nline"):
        assert request_id({"headers": [(b"x-request-id", bad)]}).startswith("req_")
