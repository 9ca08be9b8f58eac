"""Previews as managed resources over real HTTP, against the real apiserver and
PostgreSQL (no kubelet here: the Pods never run, so previews stay "deploying";
tests/integration/test_previews_node.py runs them on the node): one preview per
run, listed, stopped with everything it made, expired by a sweep that two replicas
share, stops cut short finished, other tenants kept out; and a run's exports listed."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.services import ServiceProcess, Stack, start_api, wait_for

pytestmark = pytest.mark.integration

APP_FILES = {
    "README.md": b"# Notes\n\n```sh\npython -m app\n```\n",
    "app/__init__.py": b"APP_NAME = 'Notes'\n",
    "app/__main__.py": b"from app.server import main\nmain()\n",
    "app/server.py": b"def main():\n    pass\n",
    "static/icon.bin": bytes([0, 255, 1, 254]),
}
PROJECT = "/projects/proj_notes"


def _built(namespace: str, data_dir: Path, tmp_path: Path, runs: int = 1) -> list[str]:
    """A project with `runs` succeeded runs of the same merged commit; their ids."""
    apistate.create_project(namespace, "notes", "Notes")
    _, sha = apistate.make_repo(data_dir, namespace, "notes", APP_FILES, tmp_path)
    for number in range(1, runs + 1):
        apistate.create_run(
            namespace,
            "notes",
            f"notes-r{number}",
            {"runNumber": number, "phase": "succeeded", "mergedCommit": sha},
        )
    return [f"run_notes-r{number}" for number in range(1, runs + 1)]


def _deploy(http: httpx.Client, run_id: str) -> dict:
    created = http.post(f"{PROJECT}/deploy", json={"runId": run_id, "provider": "kubernetes"})
    assert created.status_code == 202, created.text
    return dict(created.json()["data"])


def _object_name(deployment_id: str) -> str:
    return "pzd-" + deployment_id.removeprefix("dep_")


def _gone(read: Callable[[], object]) -> bool:
    try:
        read()
    except ApiException as exc:
        return exc.status == 404
    return False


def _objects_gone(namespace: str, name: str) -> bool:
    core, apps = client.CoreV1Api(), client.AppsV1Api()
    return all(
        _gone(read)
        for read in (
            lambda: apps.read_namespaced_deployment(name, namespace),
            lambda: core.read_namespaced_service(name, namespace),
            lambda: core.read_namespaced_config_map(name, namespace),
            # The claim goes once the garbage collector removed the Pods using it.
            lambda: core.read_namespaced_persistent_volume_claim(name, namespace),
        )
    )


def _stamp(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_run_has_one_preview_listed_until_stopped(
    http: httpx.Client, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    first_run, second_run = _built(namespace, data_dir, tmp_path, runs=2)
    refused = assert_error(
        http.post(f"{PROJECT}/deploy", json={"runId": first_run, "provider": "railway"}),
        400,
        "VALIDATION_ERROR",
    )
    assert refused["details"]["configured"] == ["kubernetes"]

    made = _deploy(http, first_run)
    assert made["status"] == "deploying" and made["provider"] == "kubernetes"
    assert set(made) == {"deploymentId", "status", "provider"}  # the contract's shape
    dep_id = made["deploymentId"]
    name = _object_name(dep_id)

    # The app's data lives on a claim of its own, at APP_DATABASE; one Pod at a time.
    apps, core = client.AppsV1Api(), client.CoreV1Api()
    deployment = apps.read_namespaced_deployment(name, namespace)
    assert deployment.spec.strategy.type == "Recreate"
    pod = deployment.spec.template.spec
    assert pod.security_context.run_as_non_root is True
    assert pod.security_context.fs_group == 65534
    container = pod.containers[0]
    assert container.command == ["python", "-m", "app"]
    assert container.security_context.read_only_root_filesystem is True
    assert {e.name: e.value for e in container.env}["APP_DATABASE"] == "/data/app.sqlite3"
    assert {m.name: m.mount_path for m in container.volume_mounts}["data"] == "/data"
    volumes = {v.name: v for v in pod.volumes}
    assert volumes["data"].persistent_volume_claim.claim_name == name
    assert not any(v.host_path for v in pod.volumes)  # the restricted profile holds
    claim = core.read_namespaced_persistent_volume_claim(name, namespace)
    assert claim.spec.resources.requests["storage"] == "256Mi"
    assert claim.spec.access_modes == ["ReadWriteOnce"]
    assert claim.metadata.owner_references[0].name == "notes"
    config_map = core.read_namespaced_config_map(name, namespace)
    assert APP_FILES["app/server.py"].decode() in config_map.data.values()

    # Deploying the same run again answers the same preview; another run gets its own.
    assert _deploy(http, first_run) == made
    other = _deploy(http, second_run)
    assert other["deploymentId"] != dep_id
    assert len(apps.list_namespaced_deployment(namespace).items) == 2

    listed = http.get(f"{PROJECT}/deployments")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["pagination"] == {"page": 1, "pageSize": 20, "total": 2, "totalPages": 1}
    newest, oldest = body["data"]
    assert [newest["id"], oldest["id"]] == [other["deploymentId"], dep_id]
    assert oldest == {
        "id": dep_id,
        "status": "deploying",
        "provider": "kubernetes",
        "url": None,  # not live: no kubelet here
        "runId": first_run,
        "createdAt": oldest["createdAt"],
        "expiresAt": oldest["expiresAt"],
        "stoppedAt": None,
        "message": None,
    }
    lifetime = _stamp(oldest["expiresAt"]) - _stamp(oldest["createdAt"])
    assert lifetime == dt.timedelta(hours=24)  # the default
    assert http.get(f"{PROJECT}/deployments/{dep_id}").json()["data"] == oldest
    one_run = http.get(f"{PROJECT}/deployments", params={"runId": first_run}).json()
    assert [d["id"] for d in one_run["data"]] == [dep_id]
    paged = http.get(f"{PROJECT}/deployments", params={"pageSize": 1, "page": 2}).json()
    assert [d["id"] for d in paged["data"]] == [dep_id]
    assert paged["pagination"]["totalPages"] == 2

    # Stop: everything it made goes (its data too), the record stays, stopped.
    stopped = http.delete(f"{PROJECT}/deployments/{dep_id}")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["data"] == {"id": dep_id, "status": "stopped"}
    wait_for(lambda: _objects_gone(namespace, name), 90, "the preview's objects to go")
    after = http.get(f"{PROJECT}/deployments/{dep_id}").json()["data"]
    assert after["status"] == "stopped" and after["message"] == "stopped by request"
    assert after["stoppedAt"] and after["url"] is None
    assert http.delete(f"{PROJECT}/deployments/{dep_id}").json()["data"] == {
        "id": dep_id,
        "status": "stopped",
    }
    assert http.get(f"{PROJECT}/deployments/{other['deploymentId']}").json()["data"]["status"] == (
        "deploying"
    )
    stopped_only = http.get(f"{PROJECT}/deployments", params={"status": "stopped"}).json()
    assert [d["id"] for d in stopped_only["data"]] == [dep_id]

    # A stopped run deploys afresh.
    again = _deploy(http, first_run)
    assert again["deploymentId"] not in (dep_id, other["deploymentId"])

    # Bad input: the contract's envelope.
    assert_error(http.get(f"{PROJECT}/deployments/dep_nope"), 404, "NOT_FOUND")
    assert_error(http.delete(f"{PROJECT}/deployments/dep_nope"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/proj_nope/deployments"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/not-an-id/deployments"), 404, "NOT_FOUND")
    for params in ({"runId": "run_notes-r9"}, {"runId": "bogus"}):
        assert_error(http.get(f"{PROJECT}/deployments", params=params), 404, "NOT_FOUND")
    for params in ({"pageSize": 0}, {"pageSize": 101}, {"page": 0}, {"status": "sleeping"}):
        assert_error(http.get(f"{PROJECT}/deployments", params=params), 400, "VALIDATION_ERROR")


def test_other_tenants_cannot_see_or_stop_a_preview(
    http: httpx.Client,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    make_key: Callable[..., str],
    client_for: Callable[[str], httpx.Client],
) -> None:
    (run_id,) = _built(namespace, data_dir, tmp_path)
    dep_id = _deploy(http, run_id)["deploymentId"]
    other_ns = f"t-other-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=other_ns)))
    try:
        other = client_for(make_key(other_ns, "pro"))
        # Another tenant's ids are not found, like ids that do not exist.
        for response in (
            other.get(f"{PROJECT}/deployments"),
            other.get(f"{PROJECT}/deployments/{dep_id}"),
            other.delete(f"{PROJECT}/deployments/{dep_id}"),
            other.post(f"{PROJECT}/deploy", json={"runId": run_id, "provider": "kubernetes"}),
            other.get(f"{PROJECT}/exports"),
        ):
            assert_error(response, 404, "NOT_FOUND")
        # Their own project of the same name sees none of this one's previews.
        apistate.create_project(other_ns, "notes", "Notes")
        assert other.get(f"{PROJECT}/deployments").json()["data"] == []
        assert_error(other.get(f"{PROJECT}/deployments/{dep_id}"), 404, "NOT_FOUND")
    finally:
        core.delete_namespace(other_ns)
    assert http.get(f"{PROJECT}/deployments/{dep_id}").json()["data"]["status"] == "deploying"
    assert not _gone(
        lambda: client.AppsV1Api().read_namespaced_deployment(_object_name(dep_id), namespace)
    )


@pytest.fixture
def sweeping_replicas(
    stack: Stack, data_dir: Path, tmp_path: Path
) -> Iterator[list[tuple[ServiceProcess, str]]]:
    """Two API replicas that give previews 4 s and both sweep twice a second."""
    env = {"PRAZIUM_DEPLOY_TTL_SECONDS": "4", "PRAZIUM_DEPLOY_SWEEP_INTERVAL_SECONDS": "0.5"}
    replicas = [start_api(stack, data_dir, tmp_path / name, **env) for name in ("a", "b")]
    yield replicas
    for proc, _ in replicas:
        proc.stop()


def test_previews_expire_each_swept_by_one_of_two_replicas(
    sweeping_replicas: list[tuple[ServiceProcess, str]],
    api_key: str,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    runs = _built(namespace, data_dir, tmp_path, runs=4)
    headers = {"Authorization": f"Bearer {api_key}"}
    clients = [
        httpx.Client(base_url=f"{base}/v1", headers=headers) for _, base in sweeping_replicas
    ]
    try:
        made = [_deploy(clients[i % 2], run)["deploymentId"] for i, run in enumerate(runs)]

        def all_expired() -> list[dict] | None:
            listed = clients[0].get(f"{PROJECT}/deployments").json()["data"]
            done = [d for d in listed if d["status"] == "stopped" and d["stoppedAt"]]
            return listed if len(done) == len(made) else None

        listed = wait_for(all_expired, 90, "the previews to expire")
        for preview in listed:
            assert preview["message"] == "expired after 4 s", preview
            assert _stamp(preview["stoppedAt"]) >= _stamp(preview["expiresAt"])
            lifetime = _stamp(preview["expiresAt"]) - _stamp(preview["createdAt"])
            assert lifetime == dt.timedelta(seconds=4)
        for dep_id in made:
            wait_for(lambda d=dep_id: _objects_gone(namespace, _object_name(d)), 90, dep_id)
        # Each preview was swept by exactly one replica (rows locked, SKIP LOCKED).
        swept: list[str] = []
        for proc, _ in sweeping_replicas:
            text = proc.log_path.read_text()
            for line in re.findall(r"stopped \d+ expired preview\(s\): ([^\"\n]+)", text):
                swept += [part.strip() for part in line.split(",")]
        # (Previews of earlier tests in this database may expire meanwhile too.)
        assert sorted(i for i in swept if i in made) == sorted(made), swept
    finally:
        for http in clients:
            http.close()


def test_a_stop_cut_short_is_finished_by_the_sweep(
    stack: Stack,
    api_key: str,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    db: psycopg.Connection,
) -> None:
    """A replica that claimed a stop died before removing anything: the record says
    stopped, the objects are still there; the next sweep removes them and stamps it."""
    (run_id,) = _built(namespace, data_dir, tmp_path)
    proc, base = start_api(
        stack, data_dir, tmp_path / "logs", PRAZIUM_DEPLOY_SWEEP_INTERVAL_SECONDS="0.5"
    )
    try:
        with httpx.Client(
            base_url=f"{base}/v1", headers={"Authorization": f"Bearer {api_key}"}
        ) as http:
            dep_id = _deploy(http, run_id)["deploymentId"]
            db.execute(
                "UPDATE deployments SET status = 'stopped', message = 'stopped by request'"
                " WHERE id = %s",
                (dep_id,),
            )
            wait_for(lambda: _objects_gone(namespace, _object_name(dep_id)), 90, "the sweep", proc)
            found = http.get(f"{PROJECT}/deployments/{dep_id}").json()["data"]
            assert found["status"] == "stopped" and found["stoppedAt"], found
            assert found["message"] == "stopped by request"
    finally:
        proc.stop()


def test_a_runs_exports_are_listed(
    http: httpx.Client, namespace: str, data_dir: Path, tmp_path: Path, db: psycopg.Connection
) -> None:
    first_run, second_run = _built(namespace, data_dir, tmp_path, runs=2)
    made = []
    for run_id, fmt in ((first_run, "zip"), (second_run, "tar.gz"), (first_run, "tar.gz")):
        created = http.post(f"{PROJECT}/export", json={"runId": run_id, "format": fmt})
        assert created.status_code == 202, created.text
        made.append(created.json()["data"]["id"])

    def completed() -> list[dict] | None:
        answer = http.get(f"{PROJECT}/exports")
        assert answer.status_code == 200, answer.text
        listed = answer.json()["data"]
        return listed if all(e["status"] == "completed" for e in listed) else None

    listed = wait_for(completed, 60, "the exports")
    assert [e["id"] for e in listed] == made[::-1]  # newest first
    newest = listed[0]
    assert newest == {
        **http.get(f"{PROJECT}/exports/{made[2]}").json()["data"],
        "runId": first_run,
        "createdAt": newest["createdAt"],
    }
    assert newest["downloadUrl"] == f"{PROJECT}/exports/{made[2]}/download"
    of_run = http.get(f"{PROJECT}/exports", params={"runId": first_run}).json()
    assert [e["id"] for e in of_run["data"]] == [made[2], made[0]]
    assert of_run["pagination"]["total"] == 2
    # An expired export is no longer listed (it answers 404 too).
    db.execute("UPDATE exports SET expires_at = now() WHERE id = %s", (made[0],))
    of_run = http.get(f"{PROJECT}/exports", params={"runId": first_run}).json()
    assert [e["id"] for e in of_run["data"]] == [made[2]]
    assert_error(http.get(f"{PROJECT}/exports", params={"runId": "run_x-9"}), 404, "NOT_FOUND")
    assert_error(http.get(f"{PROJECT}/exports", params={"pageSize": 0}), 400, "VALIDATION_ERROR")
