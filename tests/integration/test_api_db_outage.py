"""The API while the real PostgreSQL is stopped and started again: 503 with
Retry-After, never 500, during the outage; the pools drop the connections the
restart killed (stale ones would give 500s), so no request fails once it is back.

The test stack's PostgreSQL is shared by the whole session: it is started again
(and waited for) whatever happens here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from websockets.sync.client import connect as ws_connect

from prazium_kit import journal
from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.probes import database_answers, ws_closed
from tests.support.services import ROOT, Stack, start_api, wait_for
from tests.support.sse import frames

pytestmark = pytest.mark.integration
RUN_URL = "/projects/proj_shop/runs/run_shop-r1"


def _postgres(command: str) -> None:
    if not os.environ.get("PRAZIUM_DEV_DIR"):
        pytest.fail("PRAZIUM_DEV_DIR is not set: run `make test`")
    result = subprocess.run(
        [str(ROOT / "scripts" / "postgres.sh"), command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_postgres_outage_is_503_with_retry_after_and_no_500_after_it(
    stack: Stack,
    data_dir: Path,
    tmp_path: Path,
    namespace: str,
    make_key: Callable[..., str],
    db: psycopg.Connection,
) -> None:
    apistate.create_project(namespace, "shop", "Shop")
    apistate.create_run(namespace, "shop", "shop-r1", {"runNumber": 1, "phase": "executing"})
    appended = [
        journal.append(
            db,
            namespace=namespace,
            project="shop",
            run="shop-r1",
            event_type="RUN_STARTED",
            task=None,
            payload={},
        )
    ]
    key = make_key(namespace, "enterprise", admin=True)
    proc, base = start_api(
        stack,
        data_dir,
        tmp_path / "logs",
        PRAZIUM_DB_ACQUIRE_TIMEOUT_SECONDS="2",
        PRAZIUM_DB_RETRY_AFTER_SECONDS="3",
        PRAZIUM_KEY_CACHE_SECONDS="0",
        PRAZIUM_SSE_KEEPALIVE_SECONDS="1",
    )
    # Both pools in use: the gate's (every request) and the routes' (events, stats).
    paths = ["/projects", f"{RUN_URL}/events", "/admin/stats"]
    http = httpx.Client(
        base_url=f"{base}/v1", timeout=30, headers={"Authorization": f"Bearer {key}"}
    )
    statuses: list[int] = []
    streamed: list[str] = []

    def follow() -> None:  # an SSE client that stays connected across the outage
        with httpx.stream(
            "GET",
            f"{base}/v1{RUN_URL}/events/stream",
            timeout=30,
            headers={"Authorization": f"Bearer {key}"},
        ) as response:
            assert response.status_code == 200
            for frame in frames(response):
                streamed.append(frame.id or "")

    follower = threading.Thread(target=follow)
    try:
        follower.start()
        wait_for(lambda: streamed == [f"evt_{appended[0]}"], 10, "the stream's first event")
        for _ in range(3):  # pooled connections that the restart will kill
            for path in paths:
                response = http.get(path)
                assert response.status_code == 200, (path, response.text)
        db.close()
        _postgres("stop")
        for path in paths:
            started = time.monotonic()
            response = http.get(path)
            error = assert_error(response, 503, "INTERNAL_ERROR")
            assert error["details"]["reason"] == "DATABASE_UNAVAILABLE", error
            assert response.headers["retry-after"] == "3"
            assert time.monotonic() - started < 10
        # The WebSocket says the same, and closes with "try again later", not with
        # "invalid key".
        with ws_connect(base.replace("http://", "ws://") + "/v1/ws", open_timeout=10) as ws:
            ws.send(json.dumps({"type": "auth", "token": key}))
            message = json.loads(ws.recv(timeout=15))
            assert message["error"]["code"] == "INTERNAL_ERROR", message
            assert message["error"]["details"]["reason"] == "DATABASE_UNAVAILABLE", message
            wait_for(lambda: ws_closed(ws), 10, "the server to close the socket")
            assert ws.close_code == 1013
        health = httpx.get(f"{base}/v1/health", timeout=15)
        assert health.status_code == 503
        assert health.json()["components"]["database"] == "unhealthy"
        assert "details" not in health.json()

        _postgres("start")
        # Right after the restart: every request answers, none with a 500 from a
        # connection the restart killed (AdminShutdown).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and statuses[-len(paths) * 3 :] != [200] * (
            len(paths) * 3
        ):
            for path in paths:
                response = http.get(path)
                statuses.append(response.status_code)
                assert response.status_code != 500, (path, response.text)
                if response.status_code != 200:
                    assert_error(response, 503, "INTERNAL_ERROR")
        assert statuses[-len(paths) * 3 :] == [200] * (len(paths) * 3), statuses
        # The stream opened before the outage carries on: what is journaled after
        # it arrives, each event once, and the stream ends after the final one.
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            for event_type in ("TASK_STARTED", "RUN_COMPLETED"):
                appended.append(
                    journal.append(
                        conn,
                        namespace=namespace,
                        project="shop",
                        run="shop-r1",
                        event_type=event_type,
                        task=None,
                        payload={},
                    )
                )
        follower.join(30)
        assert not follower.is_alive(), streamed
        assert streamed == [f"evt_{i}" for i in appended], (streamed, appended)
    finally:
        http.close()
        follower.join(5)
        if not database_answers(stack.database_url):
            _postgres("start")
        wait_for(lambda: database_answers(stack.database_url), 60, "PostgreSQL back")
        proc.stop()
    log = proc.log_path.read_text(errors="replace")
    # No request met an unhandled error (the 500 path logs "unhandled error") ...
    assert "unhandled error" not in log
    # ... and no request was handed a connection the restart had killed (that would
    # log AdminShutdown or a lost connection): the pools checked and dropped them,
    # so the only failures were waits for a connection while PostgreSQL was down.
    reasons = re.findall(r"database unavailable: (\w+)", log)
    assert reasons and set(reasons) == {"PoolTimeout"}, reasons
    print(f"after the restart: {statuses.count(503)} x 503 then 200s ({statuses})")
