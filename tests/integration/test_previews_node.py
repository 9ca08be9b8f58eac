"""Previews as real Pods on the test stack's node: the generated app (rendered by the
template agent) turns live behind a NodePort; a person opens the preview's URL, as the
API gives it, in a browser (Debian's Chromium, headless) and adds a record through the
app's form; the record outlives the deletion of its Pod (its SQLite file on the
preview's own volume), still listed on the page after a reload; and the preview leaves
nothing behind when stopped - or when it expires."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from playwright.sync_api import expect

from prazium_appgen import TemplatePlanner
from prazium_appgen.app import app_model, render_app
from prazium_appgen.entities import Entity
from tests.support import apistate, appui, browser
from tests.support.node import node
from tests.support.services import ServiceProcess, Stack, start_api, wait_for

pytestmark = pytest.mark.integration

DESCRIPTION = "A small bakery: products with prices, customers and their orders."
PROJECT = "/projects/proj_bakery"
RECORD_TITLE = "Sourdough loaf"
expect.set_options(timeout=20_000)  # a page of a Pod on a loaded machine


@pytest.fixture
def bakery(namespace: str, data_dir: Path, tmp_path: Path) -> Entity:
    """The template agent's app for DESCRIPTION at a succeeded run's merged commit;
    an entity of it without references (a record can be made on its own)."""
    planner = TemplatePlanner()
    documents = planner.write_spec("Bakery", DESCRIPTION, {}, None, 0)
    app = app_model(documents)
    files = {path: text.encode() for path, text in render_app(app).items()}
    apistate.create_project(namespace, "bakery", "Bakery", DESCRIPTION)
    _, sha = apistate.make_repo(data_dir, namespace, "bakery", files, tmp_path)
    for number in (1, 2):
        apistate.create_run(
            namespace,
            "bakery",
            f"bakery-r{number}",
            {"runNumber": number, "phase": "succeeded", "mergedCommit": sha},
        )
    return next(e for e in app.entities if not any(f.references for f in e.fields))


NodeApi = Callable[[int], tuple[ServiceProcess, httpx.Client]]


@pytest.fixture
def node_api(stack: Stack, data_dir: Path, tmp_path: Path, api_key: str) -> Iterator[NodeApi]:
    """node_api(ttl_seconds): the API as `make up` runs it on the node - previews on the
    node's own image, reached on a NodePort from this host, their data in a directory
    each - whose previews expire after ttl_seconds, swept every second."""
    started: list[tuple[ServiceProcess, httpx.Client]] = []

    def start(ttl_seconds: int) -> tuple[ServiceProcess, httpx.Client]:
        proc, base = start_api(
            stack,
            data_dir,
            tmp_path / "logs",
            PRAZIUM_DEPLOY_IMAGE=node().worker_image,
            PRAZIUM_DEPLOY_SERVICE_TYPE="NodePort",
            PRAZIUM_DEPLOY_URL_TEMPLATE="http://127.0.0.1:{nodePort}",
            PRAZIUM_DEPLOY_DATA="host",
            PRAZIUM_DEPLOY_TTL_SECONDS=str(ttl_seconds),
            PRAZIUM_DEPLOY_SWEEP_INTERVAL_SECONDS="1",
        )
        http = httpx.Client(
            base_url=f"{base}/v1", headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        )
        started.append((proc, http))
        return proc, http

    yield start
    for proc, http in started:
        http.close()
        proc.stop()


def _deploy(http: httpx.Client, run_id: str) -> dict:
    created = http.post(f"{PROJECT}/deploy", json={"runId": run_id, "provider": "kubernetes"})
    assert created.status_code == 202, created.text
    return dict(created.json()["data"])


def _live(http: httpx.Client, dep_id: str, proc: ServiceProcess) -> dict:
    def answer() -> dict | None:
        found = http.get(f"{PROJECT}/deployments/{dep_id}").json()["data"]
        assert found["status"] != "failed", found
        return dict(found) if found["status"] == "live" else None

    return dict(wait_for(answer, 240, f"preview {dep_id} live", proc, interval=1))


def _answers(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None  # kube-proxy's rules for a new endpoint take a moment


def _gone(read: Any) -> bool:
    try:
        read()
    except ApiException as exc:
        return exc.status == 404
    return False


@pytest.mark.timeout(900)
def test_a_preview_keeps_its_data_across_a_pod_restart_and_stops_clean(
    node_api: NodeApi, bakery: Entity, namespace: str, data_dir: Path
) -> None:
    proc, http = node_api(3600)
    dep_id = _deploy(http, "run_bakery-r1")["deploymentId"]
    name = "pzd-" + dep_id.removeprefix("dep_")
    preview = _live(http, dep_id, proc)
    url = preview["url"]
    assert url.startswith("http://127.0.0.1:")
    health = wait_for(lambda: _answers(f"{url}/health"), 60, "the app's /health")
    assert health.status_code == 200, health.text

    with browser.chromium() as chromium, browser.context(chromium, url) as (ctx, offline):
        # The preview's address opens to the app's page; a record made through its form
        # is written to the app's SQLite file on the preview's volume.
        page = ctx.new_page()
        errors = appui.script_errors(page)
        page.goto("/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Bakery")
        appui.open_list(page, bakery)
        appui.create_record(page, bakery, RECORD_TITLE)
        listed = httpx.get(f"{url}{bakery.collection_path}", timeout=10)
        (made,) = listed.json()["items"]
        assert made["name"] == RECORD_TITLE
        host_dir = data_dir / "previews" / namespace / name
        assert (host_dir / "app.sqlite3").is_file()

        # Deploying the run again is the same preview (no second, empty app).
        again = _deploy(http, "run_bakery-r1")
        assert again == {"deploymentId": dep_id, "status": "live", "provider": "kubernetes"}

        # The Pod goes (a node drain, a crash): its successor finds the record.
        core = client.CoreV1Api()
        selector = f"app.kubernetes.io/instance={name}"
        (first_pod,) = core.list_namespaced_pod(namespace, label_selector=selector).items
        core.delete_namespaced_pod(first_pod.metadata.name, namespace, grace_period_seconds=0)

        def new_pod_serves() -> httpx.Response | None:
            pods = core.list_namespaced_pod(namespace, label_selector=selector).items
            if [p.metadata.name for p in pods] in ([], [first_pod.metadata.name]):
                return None
            answer = _answers(f"{url}{bakery.collection_path}/{made['id']}")
            return answer if answer is not None and answer.status_code == 200 else None

        kept = wait_for(new_pod_serves, 240, "the new Pod to serve the record", proc, interval=1)
        assert kept.json() == made
        # The person reloads the page: the record is listed by the new Pod.
        page.reload()
        expect(page.get_by_role("link", name=RECORD_TITLE, exact=True)).to_be_visible()
        browser.screenshot(page, "preview-app-after-restart")
        assert errors == [], errors
        assert offline.refused == [], offline.refused

    # The preview is listed with the run it came from; stopping removes it all.
    # The status is the Deployment's: live again once the controller counts the new Pod
    # available, which may lag a moment behind the Pod's first answer.
    def listed_live() -> dict | None:
        (found,) = http.get(f"{PROJECT}/deployments").json()["data"]
        return dict(found) if found["status"] == "live" else None

    listed = wait_for(listed_live, 120, "the preview listed live again", proc, interval=1)
    assert listed["id"] == dep_id and listed["runId"] == "run_bakery-r1"
    assert listed["url"] == url
    stopped = http.delete(f"{PROJECT}/deployments/{dep_id}")
    assert stopped.json()["data"] == {"id": dep_id, "status": "stopped"}
    assert not host_dir.exists()
    for read in (
        lambda: client.AppsV1Api().read_namespaced_deployment(name, namespace),
        lambda: core.read_namespaced_service(name, namespace),
        lambda: core.read_persistent_volume(name),
    ):
        wait_for(lambda r=read: _gone(r), 120, f"{name} removed", proc)
    wait_for(
        lambda: not core.list_namespaced_pod(namespace, label_selector=selector).items,
        120,
        "the preview's Pods to go",
        proc,
    )
    assert wait_for(lambda: _answers(url) is None, 60, "the preview's port to close")


@pytest.mark.timeout(900)
def test_a_live_preview_expires(
    node_api: NodeApi, bakery: Entity, namespace: str, data_dir: Path
) -> None:
    # Long enough for the preview to be live (20-40 s under gVisor), short for the test.
    proc, http = node_api(75)
    dep_id = _deploy(http, "run_bakery-r2")["deploymentId"]
    name = "pzd-" + dep_id.removeprefix("dep_")
    live = _live(http, dep_id, proc)
    assert wait_for(lambda: _answers(f"{live['url']}/health"), 60, "the app's /health")

    def expired() -> dict | None:
        found = http.get(f"{PROJECT}/deployments/{dep_id}").json()["data"]
        return dict(found) if found["stoppedAt"] else None

    gone = wait_for(expired, 300, "the preview to expire", proc, interval=2)
    assert gone["status"] == "stopped" and gone["message"] == "expired after 75 s"
    expires = dt.datetime.fromisoformat(gone["expiresAt"].replace("Z", "+00:00"))
    stopped = dt.datetime.fromisoformat(gone["stoppedAt"].replace("Z", "+00:00"))
    assert dt.timedelta(0) <= stopped - expires < dt.timedelta(seconds=60)
    assert not (data_dir / "previews" / namespace / name).exists()
    # Deleted at expiry; the PersistentVolume goes once its claim and Pod have (its
    # protection finalizer), which takes a while under gVisor.
    for read in (
        lambda: client.AppsV1Api().read_namespaced_deployment(name, namespace),
        lambda: client.CoreV1Api().read_persistent_volume(name),
    ):
        wait_for(lambda r=read: _gone(r), 120, f"{name} removed", proc)
