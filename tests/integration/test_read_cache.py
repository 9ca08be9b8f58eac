"""The API's watch-fed read cache (api/prazium_api/informer.py): reads of Projects,
Runs and Tasks come from memory, not from an apiserver list per request (a page of
projects would cost a list of them all), and stay consistent with writes made
through the same replica (read-your-writes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from tests.support import apistate
from tests.support.services import Stack, start_api, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def cached(
    stack: Stack, data_dir: Path, tmp_path: Path, make_key: object, namespace: str
) -> Iterator[httpx.Client]:
    proc, base = start_api(stack, data_dir, tmp_path / "logs", PRAZIUM_READ_CACHE="true")
    key = make_key(namespace, "enterprise")  # type: ignore[operator]
    with httpx.Client(
        base_url=f"{base}/v1", timeout=60, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        yield http
    proc.stop()


def apiserver_requests(verb: str, resource: str) -> float:
    """apiserver_request_total for verb and resource, from the apiserver's /metrics."""
    api = client.ApiClient()
    method, url, headers, body, _ = api.param_serialize(
        "GET", "/metrics", auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, header_params=headers, body=body)
    response.read()
    total = 0.0
    for line in response.data.decode().splitlines():
        if (
            line.startswith("apiserver_request_total{")
            and f'verb="{verb}"' in line
            and f'resource="{resource}"' in line
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_reads_see_this_replicas_writes_at_once(cached: httpx.Client) -> None:
    made = []
    for number in range(8):
        created = cached.post(
            "/projects",
            json={"name": f"Cached {number}", "description": "A store for used books, online."},
        )
        assert created.status_code == 201, created.text
        project = created.json()["data"]
        made.append(project["id"])
        # The very next reads, through the same replica, see the write.
        got = cached.get(f"/projects/{project['id']}")
        assert got.status_code == 200 and got.json()["data"]["name"] == f"Cached {number}"
        listed = cached.get("/projects", params={"pageSize": 100}).json()
        assert listed["pagination"]["total"] == number + 1
        assert listed["data"][0]["id"] == project["id"]  # newest first

        renamed = cached.patch(f"/projects/{project['id']}", json={"name": f"Renamed {number}"})
        assert renamed.status_code == 200, renamed.text
        assert cached.get(f"/projects/{project['id']}").json()["data"]["name"] == (
            f"Renamed {number}"
        )
        names = [p["name"] for p in cached.get("/projects").json()["data"]]
        assert f"Renamed {number}" in names and f"Cached {number}" not in names

    page = cached.get("/projects", params={"page": 2, "pageSize": 3}).json()
    assert [p["id"] for p in page["data"]] == list(reversed(made))[3:6]
    assert page["pagination"] == {"page": 2, "pageSize": 3, "total": 8, "totalPages": 3}


def test_list_pages_come_from_memory_and_others_writes_arrive_by_the_watch(
    cached: httpx.Client, namespace: str
) -> None:
    apistate.create_project(namespace, "outside", "Outside")
    # A name not cached yet is read from the apiserver: no 404 for a fresh object.
    got = cached.get("/projects/proj_outside")
    assert got.status_code == 200 and got.json()["data"]["name"] == "Outside"

    pages = 40
    before = apiserver_requests("LIST", "projects")
    for _ in range(pages):
        assert cached.get("/projects", params={"pageSize": 20}).status_code == 200
    # The counter is the apiserver's, for every client (the garbage collector, another
    # test's leftover watcher relisting, a watch that expired and relists): a few lists
    # by others may fall in the window. Without the cache every page lists (40 here).
    listed_meanwhile = apiserver_requests("LIST", "projects") - before
    assert listed_meanwhile <= pages // 8, listed_meanwhile

    # A write that did not go through this replica (here straight to the apiserver,
    # as the operator's do) reaches the cache through the watch.
    apistate.set_status(namespace, "projects", "outside", {"phase": "approved"})
    wait_for(
        lambda: cached.get("/projects/proj_outside").json()["data"]["status"] == "approved",
        30,
        "the watch delivering the status write",
    )
    apistate.create_project(namespace, "second", "Second")
    wait_for(
        lambda: cached.get("/projects").json()["pagination"]["total"] == 2,
        30,
        "the watch delivering the new project",
    )


def test_a_runs_tasks_are_read_from_the_cache(cached: httpx.Client, namespace: str) -> None:
    apistate.create_project(namespace, "shop", "Shop")
    apistate.create_run(namespace, "shop", "shop-r1", {"runNumber": 1, "phase": "executing"})
    apistate.create_task(namespace, "shop", "shop-r1", 1, "ui-shell")
    apistate.create_task(namespace, "shop", "shop-r1", 2, "auth")

    def listed() -> list[str] | None:
        tasks = cached.get("/projects/proj_shop/runs/run_shop-r1/tasks").json().get("data")
        return [t["id"] for t in tasks] if tasks and len(tasks) == 2 else None

    assert wait_for(listed, 30, "the run's tasks in the cache") == ["task_001", "task_002"]
    before = apiserver_requests("LIST", "tasks")
    reads = 25
    for _ in range(reads):
        assert cached.get("/projects/proj_shop/runs/run_shop-r1").status_code == 200
        assert listed() == ["task_001", "task_002"]
    # The counter is the apiserver's, for every client: the controller-manager's garbage
    # collector (or another test's leftover watcher relisting) may list Tasks meanwhile,
    # more often on a loaded machine (4 seen). An API without the cache would list at
    # least once per read (50 here), so a bound of a fifth of that still tells them apart.
    listed_meanwhile = apiserver_requests("LIST", "tasks") - before
    assert listed_meanwhile <= (2 * reads) // 5, listed_meanwhile
