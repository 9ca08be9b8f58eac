"""Events over real HTTP: the journal list, the SSE stream (keep-alive, resume with
Last-Event-ID, across an API restart) and the WebSocket API."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.sync.client import connect as ws_connect

from prazium_kit import journal
from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.probes import ws_closed
from tests.support.services import ServiceProcess, Stack, start_api, wait_for
from tests.support.sse import frames

pytestmark = pytest.mark.integration
RUN_URL = "/projects/proj_shop/runs/run_shop-r1"


@pytest.fixture
def run(namespace: str) -> str:
    apistate.create_project(namespace, "shop", "Shop")
    apistate.create_run(namespace, "shop", "shop-r1", {"runNumber": 1, "phase": "executing"})
    return "shop-r1"


def _append(
    conn: psycopg.Connection,
    namespace: str,
    event_type: str,
    task: str | None = None,
    **payload: object,
) -> int:
    event_id = journal.append(
        conn,
        namespace=namespace,
        project="shop",
        run="shop-r1",
        event_type=event_type,
        task=task,
        payload=dict(payload),
    )
    assert event_id is not None
    return event_id


def test_list_events_with_filters(
    http: httpx.Client, namespace: str, run: str, db: psycopg.Connection
) -> None:
    first = _append(db, namespace, "RUN_STARTED")
    _append(db, namespace, "TASK_STARTED", "task-001", slug="ui-shell")
    _append(db, namespace, "FILE_CREATED", "task-001", path="app/x.py", size=12)
    _append(db, namespace, "TASK_STARTED", "task-002", slug="auth")

    events = http.get(f"{RUN_URL}/events").json()["data"]
    assert [e["eventType"] for e in events] == [
        "RUN_STARTED",
        "TASK_STARTED",
        "FILE_CREATED",
        "TASK_STARTED",
    ]
    assert events[2] == {
        "id": f"evt_{first + 2}",
        "runId": "run_shop-r1",
        "taskId": "task_001",
        "eventType": "FILE_CREATED",
        "payload": {"path": "app/x.py", "size": 12},
        "createdAt": events[2]["createdAt"],
    }
    assert events[0]["taskId"] is None
    assert dt.datetime.fromisoformat(events[0]["createdAt"])

    by_type = http.get(f"{RUN_URL}/events", params={"type": "TASK_STARTED"}).json()["data"]
    assert [e["taskId"] for e in by_type] == ["task_001", "task_002"]
    by_task = http.get(f"{RUN_URL}/events", params={"taskId": "task_001"}).json()["data"]
    assert [e["eventType"] for e in by_task] == ["TASK_STARTED", "FILE_CREATED"]
    assert len(http.get(f"{RUN_URL}/events", params={"limit": 2}).json()["data"]) == 2
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat()
    assert http.get(f"{RUN_URL}/events", params={"after": future}).json()["data"] == []
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    assert len(http.get(f"{RUN_URL}/events", params={"after": past}).json()["data"]) == 4

    for params in ({"type": "NOPE"}, {"taskId": "7"}, {"limit": 0}, {"after": "yesterday"}):
        assert_error(http.get(f"{RUN_URL}/events", params=params), 400, "VALIDATION_ERROR")


@pytest.fixture
def fast_api(stack: Stack, data_dir: Path, tmp_path: Path) -> Iterator[tuple[ServiceProcess, str]]:
    proc, base = start_api(
        stack,
        data_dir,
        tmp_path / "logs",
        PRAZIUM_SSE_KEEPALIVE_SECONDS="0.3",
        PRAZIUM_STREAM_POLL_SECONDS="30",
    )
    yield proc, base
    proc.stop()


def test_sse_follows_live_with_keepalives_and_ends_after_the_final_event(
    fast_api: tuple[ServiceProcess, str],
    api_key: str,
    namespace: str,
    run: str,
    db: psycopg.Connection,
    stack: Stack,
) -> None:
    _, base = fast_api
    _append(db, namespace, "RUN_STARTED")

    def producer() -> None:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            time.sleep(0.8)  # long enough for keep-alives while the stream is idle
            _append(conn, namespace, "TASK_STARTED", "task-001", slug="ui-shell")
            _append(conn, namespace, "FILE_CREATED", "task-001", path="app/x.py")
            _append(conn, namespace, "RUN_COMPLETED")
            _append(conn, namespace, "RUN_STARTED")  # after the end: never sent

    thread = threading.Thread(target=producer)
    comments: list[str] = []
    with httpx.stream(
        "GET",
        f"{base}/v1{RUN_URL}/events/stream",
        timeout=20,
        headers={"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        thread.start()
        received = list(frames(response, comments))  # returns when the server ends it
    thread.join()
    assert [f.event for f in received] == [
        "RUN_STARTED",
        "TASK_STARTED",
        "FILE_CREATED",
        "RUN_COMPLETED",
    ]
    assert received[1].data == {"taskId": "task_001", "slug": "ui-shell"}
    assert received[2].data == {"taskId": "task_001", "path": "app/x.py"}
    ids = [int(f.id.removeprefix("evt_")) for f in received if f.id]
    assert ids == sorted(ids) and len(ids) == 4
    assert any("keep-alive" in c for c in comments), comments


def test_sse_resumes_after_last_event_id_across_an_api_restart(
    stack: Stack,
    data_dir: Path,
    tmp_path: Path,
    api_key: str,
    namespace: str,
    run: str,
    db: psycopg.Connection,
) -> None:
    """A client follows the stream; the API is killed; a new API process on the same
    port serves the reconnect from Last-Event-ID: nothing missing, nothing twice."""
    proc, base = start_api(stack, data_dir, tmp_path / "one")
    port = base.rsplit(":", 1)[1]
    headers = {"Authorization": f"Bearer {api_key}"}
    stop = threading.Event()
    appended: list[int] = []

    def producer() -> None:  # a steady stream of events, also while the API is down
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            for i in range(40):
                if stop.is_set():
                    break
                appended.append(
                    _append(conn, namespace, "FILE_CREATED", "task-001", path=f"f{i}.py")
                )
                time.sleep(0.05)
            appended.append(_append(conn, namespace, "RUN_COMPLETED"))

    seen: list[str] = []
    thread = threading.Thread(target=producer)
    thread.start()
    try:
        with httpx.stream(
            "GET", f"{base}/v1{RUN_URL}/events/stream", headers=headers, timeout=20
        ) as response:
            for frame in frames(response):
                seen.append(frame.id or "")
                if len(seen) == 5:
                    proc.kill()  # a crash, mid-stream
                    break
        proc.stop()
        proc, base = start_api(stack, data_dir, tmp_path / "two", port=int(port))
        last = seen[-1]
        with httpx.stream(
            "GET",
            f"{base}/v1{RUN_URL}/events/stream",
            timeout=30,
            headers={**headers, "Last-Event-ID": last},
        ) as response:
            assert response.status_code == 200
            for frame in frames(response):
                seen.append(frame.id or "")
    finally:
        stop.set()
        thread.join()
        proc.stop()
    assert seen == [f"evt_{i}" for i in appended], (seen, appended)


def test_sse_gives_each_events_time_when_asked(
    http: httpx.Client, api: str, api_key: str, namespace: str, run: str, db: psycopg.Connection
) -> None:
    """?timestamps=true (the dashboard's timeline): each frame's data also carries the
    event's createdAt, the same as the list's; without it the data is the contract's."""
    _append(db, namespace, "TASK_STARTED", "task-001", slug="ui-shell")
    _append(db, namespace, "RUN_COMPLETED")
    listed = http.get(f"{RUN_URL}/events").json()["data"]
    headers = {"Authorization": f"Bearer {api_key}"}
    received = {}
    for timestamps in (True, False):
        with httpx.stream(
            "GET",
            f"{api}/v1{RUN_URL}/events/stream",
            params={"timestamps": "true"} if timestamps else {},
            headers=headers,
            timeout=20,
        ) as response:
            received[timestamps] = list(frames(response))
    assert [f.data for f in received[True]] == [
        {"taskId": "task_001", "slug": "ui-shell", "createdAt": listed[0]["createdAt"]},
        {"createdAt": listed[1]["createdAt"]},
    ]
    assert [f.data for f in received[False]] == [{"taskId": "task_001", "slug": "ui-shell"}, {}]
    assert_error(
        http.get(f"{RUN_URL}/events/stream", params={"timestamps": "maybe"}),
        400,
        "VALIDATION_ERROR",
    )


def test_sse_for_unknown_run_is_404_and_needs_auth(http: httpx.Client, api: str, run: str) -> None:
    assert_error(http.get("/projects/proj_shop/runs/run_nope/events/stream"), 404, "NOT_FOUND")
    assert_error(httpx.get(f"{api}/v1{RUN_URL}/events/stream"), 401, "UNAUTHORIZED")


def test_websocket_auth_subscribe_events_unsubscribe(
    api: str, api_key: str, namespace: str, run: str, db: psycopg.Connection
) -> None:
    first = _append(db, namespace, "RUN_STARTED")
    url = api.replace("http://", "ws://") + "/v1/ws"
    with ws_connect(url, open_timeout=10) as ws:

        def recv() -> dict:
            return dict(json.loads(ws.recv(timeout=10)))

        ws.send(json.dumps({"type": "subscribe", "channel": "run:run_shop-r1"}))
        assert recv()["error"]["code"] == "UNAUTHORIZED"
        ws.send(json.dumps({"type": "auth", "token": api_key}))
        assert recv()["type"] == "authenticated"
        ws.send(json.dumps({"type": "subscribe", "channel": "run:run_nope"}))
        assert recv()["error"]["code"] == "NOT_FOUND"
        ws.send("not json")
        assert recv()["error"]["code"] == "VALIDATION_ERROR"
        ws.send(json.dumps({"type": "subscribe", "channel": "run:run_shop-r1"}))
        assert recv() == {"type": "subscribed", "channel": "run:run_shop-r1"}
        replayed = recv()
        assert replayed["type"] == "event" and replayed["channel"] == "run:run_shop-r1"
        assert replayed["data"]["eventType"] == "RUN_STARTED"
        assert replayed["data"]["id"] == f"evt_{first}"
        _append(db, namespace, "TASK_STARTED", "task-001", slug="ui-shell")
        live = recv()["data"]
        assert live["eventType"] == "TASK_STARTED" and live["taskId"] == "task_001"
        assert live["payload"] == {"slug": "ui-shell"} and live["timestamp"]
        ws.send(json.dumps({"type": "unsubscribe", "channel": "run:run_shop-r1"}))
        assert recv() == {"type": "unsubscribed", "channel": "run:run_shop-r1"}
        _append(db, namespace, "TASK_COMPLETED", "task-001")
        ws.send(json.dumps({"type": "ping"}))
        assert recv() == {"type": "pong"}  # and no event in between

    with ws_connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "token": "pzm_wrong"}))
        assert json.loads(ws.recv(timeout=10))["error"]["code"] == "UNAUTHORIZED"
        wait_for(lambda: ws_closed(ws), 10, "the server to close the socket")
        assert ws.close_code == 4401
