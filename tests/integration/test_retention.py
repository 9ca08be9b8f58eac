"""Retention end to end: the operator prunes a finished Run from the cluster after
archiving it in PostgreSQL (so etcd does not grow with every Run ever made), and the
REST API still lists and gets it, its tasks and its events."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client
from websockets.sync.client import connect as ws_connect

from tests.support.build import create, get, tasks_of, wait_final_event, wait_run_done
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
PROJECT = "kept"
DESCRIPTION = (
    "A todo list application where users sign in, create tasks with due dates,"
    " mark them done, and search their tasks."
)


@pytest.fixture
def pruning_operator(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> Iterator[ServiceProcess]:
    """The operator with a one-second retention sweep; the installation keeps 20 runs,
    the Project's own spec.retention keeps one. Its workers are forked from the fork
    server once it is up (the first ones may be spawned while it imports)."""
    proc = start_operator(
        stack,
        data_dir,
        [namespace],
        tmp_path / "logs",
        PRAZIUM_RETENTION_INTERVAL_SECONDS="1",
        PRAZIUM_RETENTION_KEEP_LAST_RUNS="20",
        PRAZIUM_FORK_SERVER="true",  # the builds' workers forked (executor/forkserver.py)
    )
    yield proc
    proc.stop()


def test_a_pruned_run_is_still_read_through_the_api(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    pruning_operator: ServiceProcess,
    http: httpx.Client,
    client_for: Callable[[str], httpx.Client],
    make_key: Callable[..., str],
    api: str,
    api_key: str,
) -> None:
    create(
        namespace,
        "projects",
        "Project",
        PROJECT,
        {
            "displayName": "Kept",
            "description": DESCRIPTION,
            "answers": [{"questionId": "q1", "answer": "Email/Password"}],
            "approval": {"specVersion": 1},
            "retention": {"keepLastRuns": 1},
        },
    )
    spec = {"projectRef": {"name": PROJECT}, "parallelism": 3}
    create(namespace, "runs", "Run", "kept-r1", spec)
    first = wait_run_done(namespace, "kept-r1", pruning_operator, timeout=240)
    assert first["status"]["phase"] == "succeeded", first["status"].get("message")
    live_tasks = tasks_of(namespace, "kept-r1")
    assert live_tasks
    wait_final_event(stack.database_url, namespace, "kept-r1", pruning_operator)
    results = data_dir / "results" / namespace / "kept-r1"
    assert results.is_dir()
    # The only finished run is the newest: kept.
    assert get(namespace, "runs", "kept-r1") is not None

    create(namespace, "runs", "Run", "kept-r2", spec)
    second = wait_run_done(namespace, "kept-r2", pruning_operator, timeout=240)
    assert second["status"]["phase"] == "succeeded", second["status"].get("message")
    wait_for(
        lambda: get(namespace, "runs", "kept-r1") is None,
        60,
        "run kept-r1 pruned",
        pruning_operator,
    )
    assert tasks_of(namespace, "kept-r1") == []
    assert not results.exists()
    assert not (data_dir / "workspaces" / namespace / PROJECT / "kept-r1").exists()
    assert get(namespace, "runs", "kept-r2") is not None

    # The history through the API: both runs listed, newest first, with pagination.
    base = f"/projects/proj_{PROJECT}/runs"
    listed = http.get(base).json()
    assert [r["id"] for r in listed["data"]] == ["run_kept-r2", "run_kept-r1"]
    assert listed["pagination"]["total"] == 2
    assert listed["data"][1]["runNumber"] == 1 and listed["data"][1]["status"] == "succeeded"
    paged = http.get(base, params={"page": 2, "pageSize": 1}).json()
    assert [r["id"] for r in paged["data"]] == ["run_kept-r1"]
    assert paged["pagination"] == {"page": 2, "pageSize": 1, "total": 2, "totalPages": 2}
    assert http.get(base, params={"status": "failed"}).json()["data"] == []

    detail = http.get(f"{base}/run_kept-r1")
    assert detail.status_code == 200, detail.text
    run = detail.json()["data"]
    assert run["status"] == "succeeded"
    assert run["mergedCommit"] == first["status"]["mergedCommit"]
    assert run["tasksSummary"]["succeeded"] == len(live_tasks)
    assert [t["id"] for t in run["tasks"]] == [
        "task_" + t["spec"]["definition"]["id"].split("-")[1] for t in live_tasks
    ]

    tasks = http.get(f"{base}/run_kept-r1/tasks").json()["data"]
    assert len(tasks) == len(live_tasks)
    assert all(t["status"] == "succeeded" and t["result"]["commitSha"] for t in tasks)
    one = http.get(f"{base}/run_kept-r1/tasks/{tasks[0]['id']}")
    assert one.status_code == 200 and one.json()["data"] == tasks[0]
    missing = http.get(f"{base}/run_kept-r1/tasks/task_999")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"

    events = http.get(f"{base}/run_kept-r1/events", params={"limit": 1000}).json()["data"]
    types = [e["eventType"] for e in events]
    assert types[0] == "RUN_STARTED" and types[-1] == "RUN_COMPLETED"
    assert types.count("TASK_COMPLETED") == len(live_tasks)
    with http.stream("GET", f"{base}/run_kept-r1/events/stream") as stream:
        body = "".join(stream.iter_text())
    assert body.count("event: TASK_COMPLETED") == len(live_tasks)
    assert "event: RUN_COMPLETED" in body
    # ...and over the WebSocket, whose channel names only the run.
    ws_url = api.replace("http://", "ws://") + "/v1/ws"
    with ws_connect(ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "auth", "token": api_key}))
        assert json.loads(ws.recv(timeout=10))["type"] == "authenticated"
        ws.send(json.dumps({"type": "subscribe", "channel": "run:run_kept-r1"}))
        assert json.loads(ws.recv(timeout=10)) == {
            "type": "subscribed",
            "channel": "run:run_kept-r1",
        }
        streamed = []
        while not streamed or streamed[-1] != "RUN_COMPLETED":
            message = json.loads(ws.recv(timeout=10))
            assert message["type"] == "event", message
            streamed.append(message["data"]["eventType"])
    assert streamed == types

    # A finished, pruned run cannot be cancelled (409 as for a live one); another
    # tenant does not see it at all.
    refused = http.post(f"{base}/run_kept-r1/cancel")
    assert refused.status_code == 409
    gone = http.get(f"/projects/proj_{PROJECT}/runs/run_kept-r9")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "NOT_FOUND"
    other_ns = f"{namespace}-x"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other_ns)))
    try:
        stranger = client_for(make_key(other_ns, "enterprise"))
        for path in (f"{base}/run_kept-r1", f"{base}/run_kept-r1/tasks"):
            hidden = stranger.get(path)
            assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "NOT_FOUND"
    finally:
        core.delete_namespace(other_ns)
