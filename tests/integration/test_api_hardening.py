"""What the API answers itself to the abuse and faults a probe of a running stack
tried, over real HTTP against the real apiserver and PostgreSQL: failed-credential
limits per
(address, key), forwarded headers only from configured proxies, OPERATOR_TIMEOUT
for an unacknowledged run, keys of removed tenants, SSE resume at the final
event and strict event ids, control characters, health details, path length."""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from websockets.sync.client import connect as ws_connect

from prazium_kit import journal
from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.probes import ws_closed
from tests.support.services import Stack, start_api, wait_for
from tests.support.sse import frames

pytestmark = pytest.mark.integration
RUN_URL = "/projects/proj_shop/runs/run_shop-r1"


def _address() -> str:
    """A loopback address of this test's own (127.x.y.z), so its failure budgets
    are its own in the shared rate_limit_windows table."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def _from(address: str, base: str, **kwargs: object) -> httpx.Client:
    return httpx.Client(
        base_url=f"{base}/v1",
        timeout=30,
        transport=httpx.HTTPTransport(local_address=address),
        **kwargs,
    )


def _fresh_window() -> None:
    """Start early in a one-minute window so a test's requests share it."""
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)


def _guess() -> str:
    return "pzm_" + secrets.token_urlsafe(32)


def _failure_rows(dsn: str, key: str) -> list[str]:
    """The failure buckets (fail:<address>:<digest>) counted for this presented key."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT key_id FROM rate_limit_windows WHERE key_id LIKE %s", (f"fail:%:{digest}",)
        ).fetchall()
    return [str(row[0]) for row in rows]


# --- Finding 3: failed credentials per (address, presented key) ----------------------


def test_others_bad_keys_never_lock_out_a_valid_key_from_the_same_address(
    api: str, namespace: str, make_key: Callable[..., str]
) -> None:
    _fresh_window()
    key = make_key(namespace, "pro")
    address = _address()
    limit = 10  # PRAZIUM_AUTH_FAILURES_PER_MINUTE's default
    with _from(address, api) as web:
        # 20 different bad keys from one address (one proxy, many clients): each is
        # a plain 401, none spends anyone else's budget.
        for _ in range(20):
            assert_error(
                web.get("/projects", headers={"Authorization": f"Bearer {_guess()}"}),
                401,
                "UNAUTHORIZED",
            )
        # The valid key from the same address, on a route and on login: 200.
        valid = web.get("/projects", headers={"Authorization": f"Bearer {key}"})
        assert valid.status_code == 200, valid.text
        assert web.post("/auth/login", json={"apiKey": key}).status_code == 200
        web.cookies.clear()
        # Guessing one key over and over is still limited: 401 up to the budget,
        # then 429 with Retry-After, without the key being looked at.
        guess = _guess()
        for _ in range(limit):
            assert_error(web.post("/auth/login", json={"apiKey": guess}), 401, "UNAUTHORIZED")
        limited = web.post("/auth/login", json={"apiKey": guess})
        error = assert_error(limited, 429, "RATE_LIMITED")
        assert error["details"]["limit"] == limit
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert_error(
            web.get("/projects", headers={"Authorization": f"Bearer {guess}"}), 429, "RATE_LIMITED"
        )
        # ... and still the valid key from that address is served.
        again = web.get("/projects", headers={"Authorization": f"Bearer {key}"})
        assert again.status_code == 200, again.text


def test_forwarded_for_is_believed_only_from_configured_proxies(
    stack: Stack, api: str, data_dir: Path, tmp_path: Path
) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.7"}
    # Default: no proxy is trusted; the TCP peer is the client, whatever it claims.
    peer = _address()
    guess = _guess()
    with _from(peer, api) as web:
        assert_error(
            web.get("/projects", headers={"Authorization": f"Bearer {guess}", **spoofed}),
            401,
            "UNAUTHORIZED",
        )
    assert [row.split(":")[1] for row in _failure_rows(stack.database_url, guess)] == [peer]

    # Behind a configured proxy (127.0.0.1 here), its X-Forwarded-For names the
    # client; the same header from any other peer is still ignored.
    proc, base = start_api(
        stack, data_dir, tmp_path / "logs", PRAZIUM_FORWARDED_ALLOW_IPS="127.0.0.1"
    )
    try:
        proxied, direct = _guess(), _guess()
        with _from("127.0.0.1", base) as web:
            assert_error(
                web.get("/projects", headers={"Authorization": f"Bearer {proxied}", **spoofed}),
                401,
                "UNAUTHORIZED",
            )
        other = _address()
        with _from(other, base) as web:
            assert_error(
                web.get("/projects", headers={"Authorization": f"Bearer {direct}", **spoofed}),
                401,
                "UNAUTHORIZED",
            )
    finally:
        proc.stop()
    assert [row.split(":")[1] for row in _failure_rows(stack.database_url, proxied)] == [
        "203.0.113.7"
    ]
    assert [row.split(":")[1] for row in _failure_rows(stack.database_url, direct)] == [other]


# --- Finding 4: starting a run with the operator down -------------------------------


def test_run_start_without_operator_is_500_operator_timeout(
    stack: Stack, data_dir: Path, tmp_path: Path, namespace: str, api_key: str
) -> None:
    apistate.create_project(namespace, "shop", "Shop")
    apistate.set_status(
        namespace, "projects", "shop", {"phase": "approved", "spec": apistate.approved_spec()}
    )
    # No operator runs in this test: nobody acknowledges the Run.
    proc, base = start_api(stack, data_dir, tmp_path / "logs", PRAZIUM_SYNC_TIMEOUT_SECONDS="2")
    try:
        with httpx.Client(
            base_url=f"{base}/v1", timeout=30, headers={"Authorization": f"Bearer {api_key}"}
        ) as http:
            started = time.monotonic()
            response = http.post("/projects/proj_shop/runs", json={"trigger": "manual"})
            waited = time.monotonic() - started
            error = assert_error(response, 500, "INTERNAL_ERROR")
            assert error["details"]["reason"] == "OPERATOR_TIMEOUT"
            assert error["details"]["recorded"] is True
            assert 2 <= waited < 15, waited
            # The Run is recorded and says it waits for the operator.
            run = http.get(f"/projects/proj_shop/runs/{error['details']['runId']}")
            assert run.status_code == 200, run.text
            assert run.json()["data"]["runNumber"] is None
            assert run.json()["data"]["status"] == "pending"
    finally:
        proc.stop()


# --- Finding 6: a key whose tenant was removed --------------------------------------


def test_key_of_a_removed_tenant_is_401_tenant_removed(
    api: str, make_key: Callable[..., str]
) -> None:
    core = client.CoreV1Api()
    tenant = f"t-gone-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=tenant)))
    key = make_key(tenant, "pro")
    http = httpx.Client(
        base_url=f"{api}/v1", timeout=30, headers={"Authorization": f"Bearer {key}"}
    )
    try:
        assert http.get("/projects").status_code == 200
        core.delete_namespace(tenant)

        def refused() -> bool:
            return http.get("/projects").status_code == 401

        # Within the key cache period (5 s): terminating or gone, the key is refused.
        wait_for(refused, 20, "the removed tenant's key to be refused")
        for response in (
            http.get("/projects"),
            http.post("/projects", json={"name": "Shop", "description": "A shop with a cart"}),
            http.get("/projects/proj_anything"),
        ):
            error = assert_error(response, 401, "UNAUTHORIZED")
            assert error["details"]["reason"] == "TENANT_REMOVED", error
            assert tenant in error["message"]
        assert_error(
            httpx.post(f"{api}/v1/auth/login", json={"apiKey": key}, timeout=30),
            401,
            "UNAUTHORIZED",
        )
        with ws_connect(api.replace("http://", "ws://") + "/v1/ws", open_timeout=10) as ws:
            ws.send(json.dumps({"type": "auth", "token": key}))
            message = json.loads(ws.recv(timeout=10))
            assert message["error"]["code"] == "UNAUTHORIZED", message
            assert message["error"]["details"]["reason"] == "TENANT_REMOVED", message
            wait_for(lambda: ws_closed(ws), 10, "the server to close the socket")
            assert ws.close_code == 4401
    finally:
        http.close()
        try:
            core.delete_namespace(tenant)
        except ApiException as exc:
            assert exc.status in (404, 409), exc


# --- Finding 7: SSE and WebSocket resume ---------------------------------------------


@pytest.fixture
def finished_run(namespace: str, db: psycopg.Connection) -> list[int]:
    """A run whose journal ends with RUN_COMPLETED: the event ids, in order."""
    apistate.create_project(namespace, "shop", "Shop")
    apistate.create_run(namespace, "shop", "shop-r1", {"runNumber": 1, "phase": "succeeded"})
    appended = []
    for event_type, task in (
        ("RUN_STARTED", None),
        ("TASK_STARTED", "task-001"),
        ("TASK_COMPLETED", "task-001"),
        ("RUN_COMPLETED", None),
    ):
        event_id = journal.append(
            db,
            namespace=namespace,
            project="shop",
            run="shop-r1",
            event_type=event_type,
            task=task,
            payload={},
        )
        assert event_id is not None
        appended.append(event_id)
    return appended


def _stream(http: httpx.Client, last_event_id: str) -> tuple[list[str], float]:
    """(frame ids, seconds until the server ended the stream); fails on a keep-alive
    comment, which only a stream that stays open sends."""
    comments: list[str] = []
    started = time.monotonic()
    with http.stream(
        "GET", f"{RUN_URL}/events/stream", timeout=40, headers={"Last-Event-ID": last_event_id}
    ) as response:
        assert response.status_code == 200, response.read()
        ids = []
        for frame in frames(response, comments):
            ids.append(frame.id or "")
            assert not comments, comments
    assert not comments, comments
    return ids, time.monotonic() - started


def test_sse_resumed_at_or_past_the_final_event_ends_at_once(
    http: httpx.Client, finished_run: list[int]
) -> None:
    final = finished_run[-1]
    assert http.get(f"{RUN_URL}/events").status_code == 200  # pools and caches warm
    # Before, such a stream stayed open with a keep-alive every 15 s, forever: it
    # now ends before the first keep-alive (on a busy 2-core machine: allow 12 s).
    for resume_at in (f"evt_{final}", str(final), f"evt_{final + 1000}"):
        ids, took = _stream(http, resume_at)
        assert ids == [] and took < 12, (resume_at, ids, took)
    # Resumed before the end: only the remaining events, then the end.
    ids, took = _stream(http, f"evt_{finished_run[1]}")
    assert ids == [f"evt_{i}" for i in finished_run[2:]] and took < 12, (ids, took)


def test_malformed_event_ids_are_400(
    http: httpx.Client, api: str, api_key: str, finished_run: list[int]
) -> None:
    for bad in ("evt_abc", "evt_-5", "abc", "evt_", "1e3", "evt_1 2", "9" * 30):
        error = assert_error(
            http.get(f"{RUN_URL}/events/stream", headers={"Last-Event-ID": bad}),
            400,
            "VALIDATION_ERROR",
        )
        assert error["details"]["fields"][0]["field"] == "Last-Event-ID", error
        error = assert_error(
            http.get(f"{RUN_URL}/events", params={"afterId": bad}), 400, "VALIDATION_ERROR"
        )
        assert error["details"]["fields"][0]["field"] == "afterId", error
    # Well-formed ids still work on the list.
    listed = http.get(f"{RUN_URL}/events", params={"afterId": f"evt_{finished_run[1]}"})
    assert [e["id"] for e in listed.json()["data"]] == [f"evt_{i}" for i in finished_run[2:]]

    with ws_connect(api.replace("http://", "ws://") + "/v1/ws", open_timeout=10) as ws:

        def recv() -> dict:
            return dict(json.loads(ws.recv(timeout=10)))

        ws.send(json.dumps({"type": "auth", "token": api_key}))
        assert recv()["type"] == "authenticated"
        ws.send(
            json.dumps(
                {"type": "subscribe", "channel": "run:run_shop-r1", "lastEventId": "evt_abc"}
            )
        )
        message = recv()
        assert message["type"] == "error", message
        assert message["error"]["code"] == "VALIDATION_ERROR", message
        assert message["error"]["details"]["fields"][0]["field"] == "lastEventId", message
        # Not subscribed: a well-formed id at the final event subscribes and sends nothing.
        ws.send(
            json.dumps(
                {
                    "type": "subscribe",
                    "channel": "run:run_shop-r1",
                    "lastEventId": f"evt_{finished_run[-1]}",
                }
            )
        )
        assert recv() == {"type": "subscribed", "channel": "run:run_shop-r1"}
        ws.send(json.dumps({"type": "ping"}))
        assert recv() == {"type": "pong"}


# --- Finding 8: control characters ---------------------------------------------------


def _fields(error: dict) -> set[str]:
    return {f["field"] for f in error["details"]["fields"]}


def test_control_and_bidi_characters_are_refused_naming_the_field(
    http: httpx.Client, namespace: str
) -> None:
    description = "A shop with a cart and a checkout"
    for name in ("Shop\x00", "Shop\u202eevil", "Sh\nop", "Shop\x07", "Shop\u2066x", "Sh\x85op"):
        error = assert_error(
            http.post("/projects", json={"name": name, "description": description}),
            400,
            "VALIDATION_ERROR",
        )
        assert _fields(error) == {"name"}, (name, error)
    for bad in (f"{description}\x00", f"{description}\x1b[31m", f"{description}\x7f"):
        error = assert_error(
            http.post("/projects", json={"name": "Shop", "description": bad}),
            400,
            "VALIDATION_ERROR",
        )
        assert _fields(error) == {"description"}, (bad, error)
    # Descriptions may span lines and carry tabs; names may be any printable text.
    created = http.post(
        "/projects",
        json={"name": "Café «Shop» 商店", "description": f"{description}\n\t- and tabs\r\n"},
    )
    assert created.status_code == 201, created.text
    project = created.json()["data"]["id"]
    error = assert_error(
        http.patch(f"/projects/{project}", json={"name": "x\u202dy"}), 400, "VALIDATION_ERROR"
    )
    assert _fields(error) == {"name"}
    error = assert_error(
        http.post(f"/projects/{project}/regenerate", json={"feedback": "more\x00"}),
        400,
        "VALIDATION_ERROR",
    )
    assert _fields(error) == {"feedback"}
    error = assert_error(
        http.post(
            f"/projects/{project}/answers",
            json={
                "answers": [
                    {"questionId": "q1", "answer": "ok"},
                    {"questionId": "q2", "answer": ["a", "b\x00"]},
                ]
            },
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert _fields(error) == {"answers.1.answer"}, error
    # Nothing was written by the refused requests.
    assert http.get(f"/projects/{project}").json()["data"]["name"] == "Café «Shop» 商店"


# --- Finding 9: health details and path length ---------------------------------------


@pytest.fixture
def api_without_operator(stack: Stack, data_dir: Path, tmp_path: Path) -> Iterator[str]:
    """An API for which every operator heartbeat is stale (an operator of an earlier
    test may have beaten moments ago): the operator component is unhealthy."""
    proc, base = start_api(
        stack, data_dir, tmp_path / "logs", PRAZIUM_OPERATOR_STALE_SECONDS="0.001"
    )
    yield base
    proc.stop()


def test_health_details_only_for_admins(
    api_without_operator: str, namespace: str, make_key: Callable[..., str]
) -> None:
    api = api_without_operator
    anonymous = httpx.get(f"{api}/v1/health", timeout=15)
    assert anonymous.status_code == 503
    body = anonymous.json()
    assert set(body) == {"status", "version", "components"}, body
    assert body["status"] == "unhealthy" and body["components"]["operator"] == "unhealthy"
    assert set(body["components"].values()) <= {"healthy", "unhealthy"}
    tenant_key = make_key(namespace, "pro")
    as_tenant = httpx.get(
        f"{api}/v1/health", timeout=15, headers={"Authorization": f"Bearer {tenant_key}"}
    ).json()
    assert "details" not in as_tenant, as_tenant
    admin_key = make_key(namespace, "pro", admin=True)
    as_admin = httpx.get(
        f"{api}/v1/health", timeout=15, headers={"Authorization": f"Bearer {admin_key}"}
    ).json()
    assert "no operator heartbeat" in as_admin["details"]["operator"], as_admin
    assert as_admin["components"] == body["components"]
    # Bad credentials on health are not an error, just no details.
    bad = httpx.get(f"{api}/v1/health", timeout=15, headers={"Authorization": "Bearer pzm_x"})
    assert bad.status_code == 503 and "details" not in bad.json()


def test_one_length_cap_on_every_path_input(
    http: httpx.Client, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    apistate.create_project(namespace, "shop", "Shop")
    apistate.make_repo(data_dir, namespace, "shop", {"README.md": b"# Shop\n"}, tmp_path)
    long_path = "a/" * 512 + "b"  # 1,025 characters
    assert len(long_path) == 1025
    for path, response in (
        (long_path, http.get(f"/projects/proj_shop/files/{long_path}")),
        (long_path, http.get("/projects/proj_shop/files", params={"path": long_path})),
        ("x" * 6000, http.get(f"/projects/proj_shop/files/{'x' * 6000}")),
    ):
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert _fields(error) == {"path"}, error
        assert error["details"]["maxLength"] == 1024
        assert path[:40] not in response.text  # never echoed back
    at_cap = "a/" * 511 + "bc"  # exactly 1,024: looked up, simply not there
    assert len(at_cap) == 1024
    assert_error(http.get(f"/projects/proj_shop/files/{at_cap}"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/proj_shop/files", params={"path": at_cap}), 404, "NOT_FOUND")
