"""What an outside probe of the API found, each tried again as the probe did, over
real HTTP and WebSockets against the real apiserver and PostgreSQL: an open
WebSocket outliving its revoked key or ended session, NUL bytes and trailing
newlines in path ids, keys for namespaces Prazium does not manage and booleans
spelled as strings, and the session cookie's Secure flag behind TLS."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from kubernetes import client
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from prazium_api.auth.tenant_access import TENANT_LABEL
from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.probes import ws_closed
from tests.support.services import Stack, start_api, wait_for

pytestmark = pytest.mark.integration
CHANNEL = "run:run_shop-r1"


@pytest.fixture
def run(namespace: str) -> str:
    apistate.create_project(namespace, "shop")
    apistate.create_run(namespace, "shop", "shop-r1", {"phase": "executing", "runNumber": 1})
    return "run_shop-r1"


def _ws(api: str, **kwargs: object) -> ClientConnection:
    return ws_connect(api.replace("http://", "ws://") + "/v1/ws", open_timeout=10, **kwargs)


def _recv(ws: ClientConnection) -> dict:
    return dict(json.loads(ws.recv(timeout=10)))


def _closed_unauthorized(ws: ClientConnection, within: float) -> None:
    """The server says UNAUTHORIZED and closes the socket with 4401."""
    messages: list[dict] = []

    def closed() -> bool:
        try:
            messages.append(json.loads(ws.recv(timeout=0.2)))
        except TimeoutError:
            return False
        except Exception:
            return True
        return False

    wait_for(closed, within, "the server to close the socket")
    assert ws.close_code == 4401, (ws.close_code, messages)
    errors = [m for m in messages if m.get("type") == "error"]
    assert errors and errors[-1]["error"]["code"] == "UNAUTHORIZED", messages


# --- An open WebSocket after its credentials ended -------------------------------------


def test_a_websocket_is_closed_when_its_key_is_revoked(
    api: str, namespace: str, run: str, make_key: Callable[..., str]
) -> None:
    admin = make_key(namespace, "enterprise", admin=True)
    key = make_key(namespace, "pro")
    key_id = httpx.get(
        f"{api}/v1/auth/me", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ).json()["data"]["keyId"]
    with _ws(api) as ws:
        ws.send(json.dumps({"type": "auth", "token": key}))
        assert _recv(ws)["type"] == "authenticated"
        ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
        assert _recv(ws) == {"type": "subscribed", "channel": CHANNEL}
        revoked = httpx.delete(
            f"{api}/v1/admin/keys/{key_id}",
            headers={"Authorization": f"Bearer {admin}"},
            timeout=30,
        )
        assert revoked.status_code == 200, revoked.text
        # The next subscribe checks the key again: refused, and the socket closed.
        ws.send(json.dumps({"type": "subscribe", "channel": "run:run_shop-r2"}))
        _closed_unauthorized(ws, 10)


def test_a_quiet_websocket_is_closed_within_the_key_cache_time_after_revocation(
    api: str, namespace: str, run: str, make_key: Callable[..., str], db: psycopg.Connection
) -> None:
    """Revoked on another replica (here: straight in PostgreSQL, as prazium-admin
    does): the socket sends nothing, and is closed within the key cache time (5 s)."""
    key = make_key(namespace, "pro")
    with _ws(api) as ws:
        ws.send(json.dumps({"type": "auth", "token": key}))
        key_id = _recv(ws)["keyId"]
        ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
        assert _recv(ws) == {"type": "subscribed", "channel": CHANNEL}
        db.execute("UPDATE api_keys SET revoked_at = now() WHERE id = %s", (key_id,))
        _closed_unauthorized(ws, 15)


def test_a_websocket_of_a_session_is_closed_when_the_session_logs_out(
    api: str, api_key: str, run: str
) -> None:
    with httpx.Client(base_url=f"{api}/v1", timeout=30) as web:
        login = web.post("/auth/login", json={"apiKey": api_key})
        assert login.status_code == 200, login.text
        csrf = login.json()["data"]["csrfToken"]
        cookie = f"prazium_session={web.cookies['prazium_session']}"
        host = api.removeprefix("http://")
        with _ws(api, additional_headers={"Cookie": cookie, "Origin": f"http://{host}"}) as ws:
            assert _recv(ws)["type"] == "authenticated"
            ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
            assert _recv(ws) == {"type": "subscribed", "channel": CHANNEL}
            out = web.post("/auth/logout", headers={"X-CSRF-Token": csrf})
            assert out.status_code == 200, out.text
            _closed_unauthorized(ws, 15)


def test_a_websocket_keeps_working_while_its_key_does(api: str, api_key: str, run: str) -> None:
    """The re-checks are no burden on a valid key: past two check intervals, still open."""
    with _ws(api) as ws:
        ws.send(json.dumps({"type": "auth", "token": api_key}))
        assert _recv(ws)["type"] == "authenticated"
        ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
        assert _recv(ws) == {"type": "subscribed", "channel": CHANNEL}
        with pytest.raises(TimeoutError):
            ws.recv(timeout=11)  # two key cache periods: no error, no close
        ws.send(json.dumps({"type": "ping"}))
        assert _recv(ws) == {"type": "pong"}
        assert not ws_closed(ws)


# --- Ids in paths -------------------------------------------------------------------------


def test_ids_with_nul_bytes_or_trailing_newlines_are_400(
    http: httpx.Client, namespace: str, run: str, make_key: Callable[..., str], api: str
) -> None:
    admin = httpx.Client(
        base_url=f"{api}/v1",
        timeout=30,
        headers={"Authorization": f"Bearer {make_key(namespace, 'pro', admin=True)}"},
    )
    with admin:
        for response, field in (
            (http.get("/projects/proj_shop/exports/exp_1%00"), "exportId"),
            (http.get("/projects/proj_shop/exports/exp_1%00/download"), "exportId"),
            (http.get("/projects/proj_shop/deployments/dep_1%00"), "deploymentId"),
            (http.delete("/projects/proj_shop/deployments/dep_1%00"), "deploymentId"),
            (admin.delete("/admin/keys/key_1%00"), "keyId"),
            (http.get("/projects/proj_shop%0A"), "projectId"),
            (http.get("/projects/proj_shop/runs/run_shop-r1%0A"), "runId"),
            (http.get("/projects/proj_shop/runs/run_shop-r1/tasks/task_001%0A"), "taskId"),
            (http.get("/projects/proj_shop/exports/exp_1%0A"), "exportId"),
            (admin.delete("/admin/keys/key_1%0A"), "keyId"),
            (http.get(f"/projects/proj_{'a' * 200}"), "projectId"),
        ):
            error = assert_error(response, 400, "VALIDATION_ERROR")
            assert [f["field"] for f in error["details"]["fields"]] == [field], error
            assert "\x00" not in response.text
        # Well-formed ids that name nothing are still 404, existing ones found.
        assert_error(http.get("/projects/proj_shop/exports/exp_0123"), 404, "NOT_FOUND")
        assert_error(admin.delete("/admin/keys/key_0123"), 404, "NOT_FOUND")
        assert_error(http.get("/projects/not-an-id"), 404, "NOT_FOUND")
        assert http.get("/projects/proj_shop/runs/run_shop-r1").status_code == 200


# --- Keys for namespaces Prazium does not manage -----------------------------------------


def test_keys_are_only_made_for_prazium_tenants_and_admin_is_a_real_boolean(
    api: str, namespace: str, make_key: Callable[..., str]
) -> None:
    core = client.CoreV1Api()
    unlabelled = f"t-plain-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=unlabelled)))
    admin = httpx.Client(
        base_url=f"{api}/v1",
        timeout=30,
        headers={"Authorization": f"Bearer {make_key(namespace, 'pro', admin=True)}"},
    )
    try:
        with admin:
            before = _key_ids(admin, "kube-system")
            for tenant in ("kube-system", "default", unlabelled):
                error = assert_error(
                    admin.post("/admin/keys", json={"tenant": tenant, "tier": "pro"}),
                    400,
                    "VALIDATION_ERROR",
                )
                assert error["details"]["fields"][0]["field"] == "tenant", error
                assert TENANT_LABEL in error["message"], error
            for spelled in ("yes", "true", 1, "1"):
                error = assert_error(
                    admin.post("/admin/keys", json={"tenant": namespace, "admin": spelled}),
                    400,
                    "VALIDATION_ERROR",
                )
                assert error["details"]["fields"][0]["field"] == "admin", error
            assert _key_ids(admin, "kube-system") == before  # nothing was written
            made = admin.post("/admin/keys", json={"tenant": namespace, "admin": False})
            assert made.status_code == 201, made.text
            assert made.json()["data"]["admin"] is False
    finally:
        core.delete_namespace(unlabelled)


def _key_ids(admin: httpx.Client, tenant: str) -> set[str]:
    listed = admin.get("/admin/keys", params={"tenant": tenant, "limit": 500})
    return {key["id"] for key in listed.json()["data"]["keys"]}


# --- The session cookie behind TLS ---------------------------------------------------------


def _login_cookie(base: str, api_key: str, address: str, **headers: str) -> str:
    with httpx.Client(
        base_url=f"{base}/v1",
        timeout=30,
        transport=httpx.HTTPTransport(local_address=address),
    ) as web:
        login = web.post("/auth/login", json={"apiKey": api_key}, headers=headers)
        assert login.status_code == 200, login.text
        # Sent by hand: httpx (like a browser) keeps a Secure cookie from plain http.
        token = login.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        web.cookies.clear()
        out = web.post(
            "/auth/logout",
            headers={
                "X-CSRF-Token": login.json()["data"]["csrfToken"],
                "Cookie": f"prazium_session={token}",
                **headers,
            },
        )
        assert out.status_code == 200, out.text
        return login.headers["set-cookie"].lower() + "\n" + out.headers["set-cookie"].lower()


@pytest.fixture
def proxied_api(stack: Stack, data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """The API behind a trusted proxy at 127.0.0.1 (PRAZIUM_FORWARDED_ALLOW_IPS), the
    Ingress's place; PRAZIUM_SESSION_COOKIE_SECURE left at its default."""
    proc, base = start_api(
        stack, data_dir, tmp_path / "logs", PRAZIUM_FORWARDED_ALLOW_IPS="127.0.0.1"
    )
    yield base
    proc.stop()


def test_the_session_cookie_is_secure_whenever_the_api_is_reached_over_https(
    proxied_api: str, api_key: str
) -> None:
    https = {"X-Forwarded-Proto": "https"}
    # Through the trusted proxy, which terminated TLS: Secure, on login and logout.
    login, logout = _login_cookie(proxied_api, api_key, "127.0.0.1", **https).split("\n")
    assert "; secure" in login and "httponly" in login, login
    assert "; secure" in logout, logout
    # Plain http through the proxy: no Secure (the browser would drop the cookie).
    plain = _login_cookie(proxied_api, api_key, "127.0.0.1")
    assert "; secure" not in plain, plain
    # The same header from a peer that is not the proxy is not believed.
    spoofed = _login_cookie(proxied_api, api_key, "127.0.0.2", **https)
    assert "; secure" not in spoofed, spoofed
