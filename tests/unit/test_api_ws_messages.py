"""WebSocket client messages parse by their "type"; fields of the wrong JSON type
read as absent, unknown or missing types as no message."""

from __future__ import annotations

from prazium_api.streams.wsmessages import (
    AuthMessage,
    PingMessage,
    SubscribeMessage,
    UnsubscribeMessage,
    parse_message,
)


def test_each_type_parses_to_its_model() -> None:
    assert parse_message({"type": "auth", "token": "pzm_x"}) == AuthMessage(
        type="auth", token="pzm_x"
    )
    assert parse_message(
        {"type": "subscribe", "channel": "run:run_a", "lastEventId": "evt_7"}
    ) == SubscribeMessage(type="subscribe", channel="run:run_a", lastEventId="evt_7")
    assert parse_message({"type": "unsubscribe", "channel": "run:run_a"}) == UnsubscribeMessage(
        type="unsubscribe", channel="run:run_a"
    )
    assert parse_message({"type": "ping", "extra": 1}) == PingMessage(type="ping")


def test_fields_of_the_wrong_type_read_as_absent() -> None:
    auth = parse_message({"type": "auth", "token": 123})
    assert isinstance(auth, AuthMessage) and auth.token is None
    sub = parse_message({"type": "subscribe", "channel": ["run:run_a"], "lastEventId": 7})
    assert isinstance(sub, SubscribeMessage)
    assert sub.channel is None and sub.lastEventId is None
    assert parse_message({"type": "subscribe"}) == SubscribeMessage(type="subscribe")


def test_unknown_or_missing_type_is_no_message() -> None:
    assert parse_message({"type": "shout"}) is None
    assert parse_message({"channel": "run:run_a"}) is None
    assert parse_message({"type": 5}) is None
