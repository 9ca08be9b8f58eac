"""Runs and tasks over real HTTP, on Run/Task state written to the real apiserver
(the build engine's own tests cover how the operator gets there)."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.services import Stack, start_api

pytestmark = pytest.mark.integration

SUMMARY = {
    "total": 2,
    "pending": 0,
    "queued": 0,
    "running": 0,
    "succeeded": 2,
    "failed": 0,
    "cancelled": 0,
}


def _built_project(namespace: str, name: str = "shop") -> None:
    apistate.create_project(namespace, name, "Shop")
    apistate.set_status(
        namespace,
        "projects",
        name,
        {
            "phase": "built",
            "spec": apistate.approved_spec(),
            "latestRun": {"name": f"{name}-r1", "runNumber": 1, "phase": "succeeded"},
        },
    )


def _finished_run(
    namespace: str,
    project: str = "shop",
    name: str = "shop-r1",
    number: int = 1,
    phase: str = "succeeded",
) -> None:
    apistate.create_run(
        namespace,
        project,
        name,
        {
            "runNumber": number,
            "phase": phase,
            "specSnapshot": apistate.approved_spec(),
            "plan": {
                "tasks": [
                    {"id": "task-001", "slug": "ui-shell"},
                    {"id": "task-002", "slug": "auth"},
                ],
                "mergeOrder": ["task-001", "task-002"],
                "verifyCommand": ["python", "-m", "unittest"],
            },
            "tasksSummary": SUMMARY,
            "verificationResult": {
                "command": ["python", "-m", "unittest"],
                "exitCode": 0,
                "summary": "12 passed",
                "durationSeconds": 1.5,
            },
            "mergedCommit": "a" * 40,
            "startedAt": "2024-01-15T11:30:00Z",
            "completedAt": "2024-01-15T11:45:00Z",
        },
    )
    for number_, slug in ((2, "auth"), (1, "ui-shell")):
        apistate.create_task(
            namespace,
            project,
            name,
            number_,
            slug,
            {
                "phase": "succeeded",
                "branchName": f"feat/run-1/task-00{number_}-{slug}",
                "worktreePath": f"/data/workspaces/{namespace}/{project}/{name}/task-00{number_}",
                "result": {
                    "filesCreated": [f"{slug}/x.py"],
                    "filesModified": [],
                    "commitSha": "b" * 40,
                },
                "startedAt": "2024-01-15T11:31:00Z",
                "completedAt": "2024-01-15T11:35:00Z",
            },
        )


def test_list_and_get_runs_with_tasks(http: httpx.Client, namespace: str) -> None:
    _built_project(namespace)
    _finished_run(namespace)
    _finished_run(namespace, name="shop-r2", number=2, phase="failed")

    listed = http.get("/projects/proj_shop/runs").json()
    assert [r["id"] for r in listed["data"]] == ["run_shop-r2", "run_shop-r1"]
    assert listed["pagination"] == {"page": 1, "pageSize": 20, "total": 2, "totalPages": 1}
    first = listed["data"][1]
    assert first == {
        "id": "run_shop-r1",
        "projectId": "proj_shop",
        "runNumber": 1,
        "status": "succeeded",
        "trigger": "manual",
        "tasksSummary": SUMMARY,
        "startedAt": "2024-01-15T11:30:00Z",
        "completedAt": "2024-01-15T11:45:00Z",
        "createdAt": first["createdAt"],
    }
    failed = http.get("/projects/proj_shop/runs", params={"status": "failed"}).json()["data"]
    assert [r["id"] for r in failed] == ["run_shop-r2"]

    run = http.get("/projects/proj_shop/runs/run_shop-r1").json()["data"]
    assert run["specSnapshot"]["version"] == 1
    assert run["tasksJson"]["mergeOrder"] == ["task-001", "task-002"]
    assert run["tasks"] == [
        {"id": "task_001", "slug": "ui-shell", "status": "succeeded", "sequence": 1},
        {"id": "task_002", "slug": "auth", "status": "succeeded", "sequence": 2},
    ]
    assert run["verificationResult"]["exitCode"] == 0
    assert run["completedAt"] == "2024-01-15T11:45:00Z"

    tasks = http.get("/projects/proj_shop/runs/run_shop-r1/tasks").json()["data"]
    assert [t["id"] for t in tasks] == ["task_001", "task_002"]
    assert tasks[0]["branchName"] == "feat/run-1/task-001-ui-shell"
    assert tasks[0]["definition"]["pathScope"] == ["ui-shell/**"]
    assert tasks[0]["result"]["filesCreated"] == ["ui-shell/x.py"]

    task = http.get("/projects/proj_shop/runs/run_shop-r1/tasks/task_002").json()["data"]
    assert task["definition"] == {
        "id": "task-002",
        "slug": "auth",
        "description": "Build auth",
        "instructions": "do it",
        "dependencies": [],
        "pathScope": ["auth/**"],
        "expectedOutputs": ["auth/x.py"],
    }
    assert task["worktreePath"].endswith("/shop-r1/task-002")
    assert task["result"] == {
        "filesCreated": ["auth/x.py"],
        "filesModified": [],
        "commitSha": "b" * 40,
    }
    assert task["startedAt"] == "2024-01-15T11:31:00Z"

    assert_error(http.get("/projects/proj_shop/runs/run_shop-r1/tasks/task_009"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/proj_shop/runs/run_shop-r1/tasks/nope"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/proj_shop/runs/run_nope"), 404, "NOT_FOUND")
    assert_error(
        http.get("/projects/proj_shop/runs", params={"status": "x"}), 400, "VALIDATION_ERROR"
    )


def test_run_of_another_project_is_not_found(http: httpx.Client, namespace: str) -> None:
    _built_project(namespace)
    _finished_run(namespace)
    apistate.create_project(namespace, "other", "Other")
    assert_error(http.get("/projects/proj_other/runs/run_shop-r1"), 404, "NOT_FOUND")
    assert http.get("/projects/proj_other/runs").json()["data"] == []


def test_state_conflicts(http: httpx.Client, namespace: str) -> None:
    _built_project(namespace)
    _finished_run(namespace)
    _finished_run(namespace, name="shop-r2", number=2, phase="executing")
    assert_error(http.post("/projects/proj_shop/runs/run_shop-r1/cancel"), 409, "CONFLICT")
    assert_error(http.post("/projects/proj_shop/runs/run_shop-r2/retry"), 409, "CONFLICT")
    apistate.create_project(namespace, "fresh", "Fresh")
    error = assert_error(http.post("/projects/proj_fresh/runs", json={}), 409, "CONFLICT")
    assert "approve" in error["message"]
    assert_error(
        http.post("/projects/proj_shop/runs", json={"trigger": "sometimes"}),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        http.post("/projects/proj_shop/runs", json={"parallelism": 0}), 400, "VALIDATION_ERROR"
    )
    http.delete("/projects/proj_shop")
    assert_error(http.post("/projects/proj_shop/runs", json={}), 409, "CONFLICT")


@pytest.fixture
def numbered_runs(namespace: str) -> Iterator[None]:
    """Writes what the operator's first reconcile of a new Run writes - its run
    number - through the status subresource, as apistate does for later states:
    starting a run answers 201 only once the Run is acknowledged (else 500
    OPERATOR_TIMEOUT), and no operator runs in these tests."""
    stop = threading.Event()

    def number() -> None:
        while not stop.wait(0.1):
            runs = apistate.crd().list_namespaced_custom_object(
                "prazium.io", "v1alpha1", namespace, "runs"
            )["items"]
            taken = [r.get("status", {}).get("runNumber") or 0 for r in runs]
            for run in sorted(runs, key=lambda r: r["metadata"]["creationTimestamp"]):
                if not run.get("status", {}).get("runNumber"):
                    taken.append(max(taken) + 1)
                    apistate.set_status(
                        namespace,
                        "runs",
                        run["metadata"]["name"],
                        {"runNumber": taken[-1], "phase": "pending"},
                    )

    thread = threading.Thread(target=number, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join()


@pytest.fixture
def quick_api(stack: Stack, data_dir: Path, tmp_path: Path, numbered_runs: None) -> tuple[str, str]:
    """Two API replicas; Runs are numbered by numbered_runs (no operator runs here)."""
    env = {"PRAZIUM_SYNC_TIMEOUT_SECONDS": "10"}
    first, base1 = start_api(stack, data_dir, tmp_path / "a", **env)
    second, base2 = start_api(stack, data_dir, tmp_path / "b", **env)
    yield base1, base2  # type: ignore[misc]
    first.stop()
    second.stop()


def test_concurrent_build_limit_holds_across_two_replicas(
    quick_api: tuple[str, str], namespace: str, make_key: Callable[..., str]
) -> None:
    key = make_key(namespace, "free")
    _built_project(namespace)
    headers = {"Authorization": f"Bearer {key}"}

    def start(base: str) -> httpx.Response:
        return httpx.post(
            f"{base}/v1/projects/proj_shop/runs", json={}, headers=headers, timeout=30
        )

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(start, [*quick_api, *quick_api]))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409], [r.text for r in responses]
    created = next(r for r in responses if r.status_code == 201).json()["data"]
    assert created["status"] == "decomposing" and created["trigger"] == "manual"
    refused = next(r for r in responses if r.status_code == 409).json()["error"]
    assert refused["details"]["reason"] == "CONCURRENT_BUILD_LIMIT"
    assert refused["details"]["activeRuns"] == [created["id"]]

    # Once that build is over, the next one may start; a retry counts as a build too.
    apistate.set_status(namespace, "runs", created["id"][4:], {"phase": "failed"})
    retried = httpx.post(
        f"{quick_api[1]}/v1/projects/proj_shop/runs/{created['id']}/retry",
        headers=headers,
        timeout=30,
    )
    assert retried.status_code == 201, retried.text
    assert retried.json()["data"]["trigger"] == "retry"
    run = apistate.crd().get_namespaced_custom_object(
        "prazium.io", "v1alpha1", namespace, "runs", retried.json()["data"]["id"][4:]
    )
    assert run["spec"]["retryOf"] == created["id"][4:]
    assert run["metadata"]["ownerReferences"][0]["name"] == "shop"
    assert_error(start(quick_api[0]), 409, "CONFLICT")
