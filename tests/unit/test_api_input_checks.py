"""Input checks of the API that need no services: control characters in user
text, event ids, failure-budget buckets."""

from __future__ import annotations

import pytest

from prazium_api.auth import ratelimit
from prazium_api.contract import textcheck
from prazium_api.contract.errors import ApiError
from prazium_api.streams import events


@pytest.mark.parametrize(
    "text",
    [
        "a\x00b",
        "a\nb",
        "a\tb",
        "a\x1bb",
        "a\x7fb",
        "a\x85b",
        "a\u202eb",
        "a\u202ab",
        "a\u2066b",
        "a\u2069b",
    ],
)
def test_names_refuse_control_and_bidi_characters(text: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        textcheck.single_line(text)


@pytest.mark.parametrize("text", ["Shop", "Café «Shop» 商店", "שלום shop", "a\u200db"])
def test_names_keep_printable_text(text: str) -> None:
    assert textcheck.single_line(text) == text


def test_free_text_keeps_line_breaks_and_tabs_only() -> None:
    assert textcheck.multi_line("one\ntwo\r\n\tthree") == "one\ntwo\r\n\tthree"
    for bad in ("a\x00", "a\x0b", "a\x0c", "a\x1f", "a\x7f", "a\x9f"):
        with pytest.raises(ValueError, match="U\\+00"):
            textcheck.multi_line(bad)
    assert textcheck.optional_multi_line(None) is None


@pytest.mark.parametrize(
    ("text", "expected"), [(None, 0), ("", 0), (" ", 0), ("evt_42", 42), ("42", 42), (" evt_7 ", 7)]
)
def test_event_ids_parse(text: str | None, expected: int) -> None:
    assert events.parse_event_id(text, "Last-Event-ID") == expected


@pytest.mark.parametrize(
    "text", ["evt_abc", "evt_-5", "abc", "evt_", "-1", "1.5", "9" * 19, "evt_1 2", "EVT_1"]
)
def test_malformed_event_ids_are_validation_errors(text: str) -> None:
    with pytest.raises(ApiError) as raised:
        events.parse_event_id(text, "afterId")
    assert raised.value.code == "VALIDATION_ERROR" and raised.value.status == 400
    assert raised.value.details["fields"][0]["field"] == "afterId"


def test_failure_buckets_are_per_address_and_credential() -> None:
    one = ratelimit.failure_bucket("10.0.0.1", "a" * 64)
    assert one == "fail:10.0.0.1:" + "a" * 32
    assert one != ratelimit.failure_bucket("10.0.0.1", "b" * 64)
    assert one != ratelimit.failure_bucket("10.0.0.2", "a" * 64)
