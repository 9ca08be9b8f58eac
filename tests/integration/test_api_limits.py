"""Brute force and floods over real HTTP / WebSocket: login and credential checks
limited per (client address, presented credential), WebSocket messages per
connection and per key.

Each test talks from its own loopback address (127.x.y.z), so its address budget
is its own in the shared rate_limit_windows table."""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.support.apistate import assert_error
from tests.support.services import Stack, start_api, wait_for

pytestmark = pytest.mark.integration
FAILURES = 3  # PRAZIUM_AUTH_FAILURES_PER_MINUTE of the API under test


@pytest.fixture
def limited_api(stack: Stack, data_dir: Path, tmp_path: Path) -> Iterator[str]:
    proc, base = start_api(
        stack,
        data_dir,
        tmp_path / "logs",
        PRAZIUM_AUTH_FAILURES_PER_MINUTE=str(FAILURES),
        PRAZIUM_WS_MESSAGES_PER_MINUTE="6",
        PRAZIUM_RATE_LIMIT_FREE="4",
    )
    yield base
    proc.stop()


def _address() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def _from(address: str, base: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base}/v1", timeout=10, transport=httpx.HTTPTransport(local_address=address)
    )


def _fresh_window() -> None:
    """Start early in a one-minute window so a test's requests share it."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


def _guess() -> str:
    return "pzm_" + secrets.token_urlsafe(32)


def test_login_brute_force_hits_429_without_locking_out_valid_keys(
    limited_api: str, namespace: str, make_key: Callable[..., str]
) -> None:
    _fresh_window()
    key = make_key(namespace, "pro")
    attacker, user = _address(), _address()
    guess = _guess()
    with _from(attacker, limited_api) as web:
        for _ in range(FAILURES):
            assert_error(web.post("/auth/login", json={"apiKey": guess}), 401, "UNAUTHORIZED")
        limited = web.post("/auth/login", json={"apiKey": guess})
        error = assert_error(limited, 429, "RATE_LIMITED")
        assert error["details"]["limit"] == FAILURES
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # The same guess as a bearer key on a REST route meets the same budget.
        assert_error(
            web.get("/projects", headers={"Authorization": f"Bearer {guess}"}), 429, "RATE_LIMITED"
        )
        assert "prazium_session" not in web.cookies
        # Another guess has its own budget: a plain 401, not a lock-out of the address.
        assert_error(web.post("/auth/login", json={"apiKey": _guess()}), 401, "UNAUTHORIZED")
        # A valid key from the very same address (clients behind one proxy) is served.
        assert web.post("/auth/login", json={"apiKey": key}).status_code == 200
        assert web.get("/projects").status_code == 200  # with the session cookie
    # Other addresses are not affected.
    with _from(user, limited_api) as web:
        assert web.post("/auth/login", json={"apiKey": key}).status_code == 200
        assert web.get("/projects").status_code == 200


def _ws(base: str, address: str, **kwargs: Any) -> Any:
    return ws_connect(
        base.replace("http://", "ws://") + "/v1/ws",
        open_timeout=10,
        source_address=(address, 0),
        **kwargs,
    )


def _recv(ws: Any) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=10)))


def _closed_with(ws: Any, code: int) -> bool:
    try:
        ws.recv(timeout=0.2)
    except TimeoutError:
        return False
    except Exception:
        return ws.close_code == code
    return False


def test_websocket_messages_are_rate_limited_per_connection_and_per_key(
    limited_api: str, namespace: str, make_key: Callable[..., str]
) -> None:
    _fresh_window()
    # Per connection: 6 messages a minute, whatever the key's budget.
    with _ws(limited_api, _address()) as ws:
        ws.send(json.dumps({"type": "auth", "token": make_key(namespace, "enterprise")}))
        assert _recv(ws)["type"] == "authenticated"
        for _ in range(5):
            ws.send(json.dumps({"type": "ping"}))
            assert _recv(ws) == {"type": "pong"}
        for _ in range(2):
            ws.send(json.dumps({"type": "ping"}))
            error = _recv(ws)
            assert error["type"] == "error" and error["error"]["code"] == "RATE_LIMITED", error
            assert error["error"]["details"]["limit"] == 6
            assert 1 <= error["error"]["details"]["retryAfter"] <= 60

    # Per key (free tier: 4 a minute here), shared with REST: auth + 3 pings.
    free = make_key(namespace, "free")
    with _ws(limited_api, _address()) as ws:
        ws.send(json.dumps({"type": "auth", "token": free}))
        assert _recv(ws)["type"] == "authenticated"
        for _ in range(3):
            ws.send(json.dumps({"type": "ping"}))
            assert _recv(ws) == {"type": "pong"}
        ws.send(json.dumps({"type": "ping"}))
        error = _recv(ws)
        assert (
            error["error"]["code"] == "RATE_LIMITED" and error["error"]["details"]["limit"] == 4
        ), error
    assert_error(
        httpx.get(f"{limited_api}/v1/projects", headers={"Authorization": f"Bearer {free}"}),
        429,
        "RATE_LIMITED",
    )


def test_websocket_auth_brute_force_hits_rate_limited(limited_api: str) -> None:
    _fresh_window()
    attacker = _address()
    guess = _guess()
    for _ in range(FAILURES):
        with _ws(limited_api, attacker) as ws:
            ws.send(json.dumps({"type": "auth", "token": guess}))
            assert _recv(ws)["error"]["code"] == "UNAUTHORIZED"
            wait_for(lambda ws=ws: _closed_with(ws, 4401), 10, "close 4401")
    with _ws(limited_api, attacker) as ws:
        ws.send(json.dumps({"type": "auth", "token": guess}))
        error = _recv(ws)
        assert error["error"]["code"] == "RATE_LIMITED", error
        assert error["error"]["details"]["limit"] == FAILURES
        wait_for(lambda: _closed_with(ws, 4429), 10, "close 4429")
