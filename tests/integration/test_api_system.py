"""Admin stats, the keys a key may list, rate limits and the OpenAPI document over
real HTTP (previews: test_api_previews.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from kubernetes import client

from prazium_api.auth.keys import create_key, digest
from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.services import ServiceProcess, Stack, start_api

pytestmark = pytest.mark.integration

APP_FILES = {
    "README.md": b"# Notes\n\n```sh\npython -m app\n```\n",
    "app/__init__.py": b"APP_NAME = 'Notes'\n",
    "app/__main__.py": b"from app.server import main\nmain()\n",
    "app/server.py": b"def main():\n    pass\n",
    "static/icon.bin": bytes([0, 255, 1, 254]),
}


@pytest.fixture
def built(namespace: str, data_dir: Path, tmp_path: Path) -> str:
    apistate.create_project(namespace, "notes", "Notes")
    _, sha = apistate.make_repo(data_dir, namespace, "notes", APP_FILES, tmp_path)
    apistate.create_run(
        namespace, "notes", "notes-r1", {"runNumber": 1, "phase": "succeeded", "mergedCommit": sha}
    )
    return sha


def test_admin_stats_count_real_objects_and_need_an_admin_key(
    http: httpx.Client,
    namespace: str,
    built: str,
    make_key: Callable[..., str],
    client_for: Callable[[str], httpx.Client],
    operator: ServiceProcess,
) -> None:
    assert_error(http.get("/admin/stats"), 403, "FORBIDDEN")
    admin = client_for(make_key(namespace, "pro", admin=True))
    response = admin.get("/admin/stats")
    assert response.status_code == 200, response.text
    stats = response.json()["data"]
    assert stats["projects"]["total"] >= 1 and stats["projects"]["active"] >= 1
    assert stats["runs"]["succeeded"] >= 1 and stats["runs"]["total"] >= 1
    assert set(stats["queue"]) == {"pending", "processing"}
    assert stats["workers"]["total"] >= 1 and stats["workers"]["operators"] >= 1


KEY_FIELDS = {"id", "tenant", "tier", "admin", "createdAt", "revokedAt", "prefix", "lastUsedAt"}


def _listed(response: httpx.Response) -> dict[str, dict[str, object]]:
    assert response.status_code == 200, response.text
    keys = response.json()["data"]["keys"]
    for key in keys:
        assert set(key) == KEY_FIELDS, key  # never the key, never its hash
    return {str(key["id"]): key for key in keys}


def test_a_tenant_key_lists_its_own_tenants_keys_only(
    stack: Stack, api: str, namespace: str, client_for: Callable[[str], httpx.Client]
) -> None:
    other_ns = f"t-other-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api()
    labels = {"prazium.io/tenant": "true"}
    core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=other_ns, labels=labels))
    )
    try:
        with psycopg.connect(stack.database_url, autocommit=True) as conn:
            own_id, own = create_key(conn, namespace, "pro")
            spare_id, _ = create_key(conn, namespace, "free")
            admin_id, admin_key = create_key(conn, namespace, "pro", True)
            other_id, other = create_key(conn, other_ns, "pro")
        mine, theirs, admin = client_for(own), client_for(other), client_for(admin_key)

        # Its own tenant's keys; the same tenant's admin key and other tenants' left out.
        response = mine.get("/keys")
        listed = _listed(response)
        assert set(listed) == {own_id, spare_id}
        assert response.json()["data"]["pagination"] == {"total": 2, "limit": 100, "offset": 0}
        assert all(k["tenant"] == namespace and k["admin"] is False for k in listed.values())
        assert listed[own_id]["lastUsedAt"] and listed[spare_id]["lastUsedAt"] is None
        assert listed[spare_id]["tier"] == "free"
        assert set(_listed(mine.get("/keys", params={"tenant": namespace}))) == {own_id, spare_id}
        paged = mine.get("/keys", params={"limit": 1, "offset": 1})
        assert set(_listed(paged)) == {own_id}  # the older of the two
        assert paged.json()["data"]["pagination"]["total"] == 2
        assert set(_listed(theirs.get("/keys"))) == {other_id}

        # Another tenant's keys, whether it exists or not: 403, nothing of theirs.
        for tenant in (other_ns, "t-no-such-tenant"):
            refused = mine.get("/keys", params={"tenant": tenant})
            error = assert_error(refused, 403, "FORBIDDEN")
            assert error["details"] == {"tenant": tenant} and other_id not in refused.text
        error = assert_error(
            mine.get("/keys", params={"tenant": "Not_A_Name"}), 400, "VALIDATION_ERROR"
        )
        assert error["details"]["fields"][0]["field"] == "tenant"
        assert_error(mine.get("/keys", params={"limit": 0}), 400, "VALIDATION_ERROR")
        # The admin routes stay the admins'.
        assert_error(mine.get("/admin/keys"), 403, "FORBIDDEN")

        # An admin key: every tenant's keys, as GET /admin/keys answers them.
        assert set(_listed(admin.get("/keys", params={"tenant": namespace}))) == {
            own_id,
            spare_id,
            admin_id,
        }
        assert set(_listed(admin.get("/keys", params={"tenant": other_ns}))) == {other_id}
        everyone = admin.get("/keys", params={"limit": 3}).json()["data"]
        as_admin = admin.get("/admin/keys", params={"limit": 3}).json()["data"]
        assert [k["id"] for k in everyone["keys"]] == [k["id"] for k in as_admin["keys"]]
        assert [k["id"] for k in everyone["keys"]] == [other_id, admin_id, spare_id]
        assert everyone["pagination"] == as_admin["pagination"]
        assert everyone["pagination"]["total"] >= 4
    finally:
        core.delete_namespace(other_ns)


@pytest.fixture
def two_replicas(stack: Stack, data_dir: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two replicas that count every request in PostgreSQL at once (flush 0): exact."""
    exact = {"PRAZIUM_RATE_LIMIT_FLUSH_SECONDS": "0"}
    first, base1 = start_api(stack, data_dir, tmp_path / "a", **exact)
    second, base2 = start_api(stack, data_dir, tmp_path / "b", **exact)
    yield base1, base2
    first.stop()
    second.stop()


@pytest.fixture
def two_batching_replicas(
    stack: Stack, data_dir: Path, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    """Two replicas as deployed: a cached key's requests counted in process and
    flushed to PostgreSQL (every 0.5 s, or after 1/20 of the limit)."""
    first, base1 = start_api(stack, data_dir, tmp_path / "a")
    second, base2 = start_api(stack, data_dir, tmp_path / "b")
    yield base1, base2
    first.stop()
    second.stop()


def _start_of_window() -> None:
    """Start early in a one-minute window so a test's requests share it."""
    if time.time() % 60 > 30:
        time.sleep(61 - time.time() % 60)


def test_rate_limit_is_shared_by_two_replicas(
    two_replicas: tuple[str, str], namespace: str, make_key: Callable[..., str]
) -> None:
    key = make_key(namespace, "free")
    headers = {"Authorization": f"Bearer {key}"}
    # Start at the beginning of a minute window so all 61 requests land in one.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)
    answers = [
        httpx.get(f"{two_replicas[i % 2]}/v1/projects", headers=headers, timeout=10)
        for i in range(61)
    ]
    assert [r.status_code for r in answers[:60]] == [200] * 60
    assert answers[0].headers["x-ratelimit-limit"] == "60"
    assert answers[0].headers["x-ratelimit-remaining"] == "59"
    assert answers[59].headers["x-ratelimit-remaining"] == "0"
    reset = int(answers[0].headers["x-ratelimit-reset"])
    assert 0 < reset - time.time() <= 61
    limited = assert_error(answers[60], 429, "RATE_LIMITED")
    assert limited["details"]["limit"] == 60
    assert 1 <= int(answers[60].headers["retry-after"]) <= 60
    assert answers[60].headers["x-ratelimit-remaining"] == "0"
    # Error responses carry the headers too; other keys have their own budget.
    pro = make_key(namespace, "pro")
    other = httpx.get(f"{two_replicas[0]}/v1/nope", headers={"Authorization": f"Bearer {pro}"})
    assert other.status_code == 404 and other.headers["x-ratelimit-limit"] == "300"


def test_batched_counts_of_two_replicas_share_one_budget_within_the_bound(
    two_batching_replicas: tuple[str, str],
    namespace: str,
    make_key: Callable[..., str],
    db: psycopg.Connection,
) -> None:
    """Each replica counts a cached key's requests in process and flushes them to the
    shared window: together they stop the key near its budget of 60 - over it by at
    most what each had not flushed yet (at most 60 // 20 = 3 each, plus what arrives
    during a flush) - and afterwards PostgreSQL holds every request either counted."""
    key = make_key(namespace, "free")
    headers = {"Authorization": f"Bearer {key}"}
    _start_of_window()
    clients = [
        httpx.Client(base_url=base, headers=headers, timeout=10) for base in two_batching_replicas
    ]
    try:
        answers: list[httpx.Response] = []
        while len(answers) < 100 and (not answers or answers[-1].status_code == 200):
            answers.append(clients[len(answers) % 2].get("/v1/projects"))
        # Each replica's first request was counted in PostgreSQL: its view is exact.
        assert answers[0].headers["x-ratelimit-remaining"] == "59"
        assert answers[1].headers["x-ratelimit-remaining"] == "58"
        admitted = len(answers) - 1
        limited = assert_error(answers[-1], 429, "RATE_LIMITED")
        assert limited["details"]["limit"] == 60
        assert answers[-1].headers["x-ratelimit-remaining"] == "0"
        assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
        # (Under by at most one flush under way, when a replica's key cache expired
        # and its new lookup read the count with the flush already in it.)
        assert 60 - 3 <= admitted <= 60 + 2 * 8, f"admitted {admitted} of a budget of 60"
        # Once both have flushed, the other replica is limited too: within its own
        # unflushed share (it learns the first one's last counts with its next flush).
        time.sleep(1.5)
        sent = len(answers)
        for web in clients:
            later = [web.get("/v1/projects")]
            while later[-1].status_code == 200 and len(later) < 8:
                time.sleep(0.6)
                later.append(web.get("/v1/projects"))
            assert_error(later[-1], 429, "RATE_LIMITED")
            admitted += len(later) - 1
            sent += len(later)
        assert admitted <= 60 + 2 * 8, f"admitted {admitted} of a budget of 60"
        window_start = int(answers[0].headers["x-ratelimit-reset"]) - 60
    finally:
        for web in clients:
            web.close()
    # Every request either replica counted reached the shared window.
    time.sleep(3)
    rows = db.execute(
        "SELECT w.count FROM rate_limit_windows w JOIN api_keys k ON k.id = w.key_id"
        " WHERE k.key_hash = %s AND w.window_start = to_timestamp(%s)",
        (digest(key), window_start),
    ).fetchall()
    assert rows == [(sent,)], (rows, sent)


def test_revoked_key_stops_working_within_the_key_cache_ttl(
    stack: Stack,
    data_dir: Path,
    tmp_path: Path,
    namespace: str,
    make_key: Callable[..., str],
    db: psycopg.Connection,
) -> None:
    """Verified keys are cached per replica for PRAZIUM_KEY_CACHE_SECONDS (here 1 s);
    revocation in PostgreSQL takes effect within that bound, never later."""
    proc, base = start_api(stack, data_dir, tmp_path / "logs", PRAZIUM_KEY_CACHE_SECONDS="1")
    try:
        key = make_key(namespace, "pro")
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"{base}/v1", headers=headers, timeout=10) as web:
            first = web.get("/projects")
            assert first.status_code == 200, first.text
            second = web.get("/projects")  # served from the cache, still counted
            assert (
                int(second.headers["x-ratelimit-remaining"])
                == int(first.headers["x-ratelimit-remaining"]) - 1
            )
            db.execute("UPDATE api_keys SET revoked_at = now() WHERE key_hash = %s", (digest(key),))
            revoked = time.monotonic()
            while (status := web.get("/projects").status_code) == 200:
                assert time.monotonic() - revoked < 1.5, "revoked key still accepted"
                time.sleep(0.05)
            assert status == 401
            # And it stays refused (no stale entry comes back).
            assert_error(web.get("/projects"), 401, "UNAUTHORIZED")
    finally:
        proc.stop()


def test_openapi_document_is_served_and_uses_the_envelope(api: str) -> None:
    doc = httpx.get(f"{api}/v1/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/v1/projects",
        "/v1/projects/{projectId}",
        "/v1/projects/{projectId}/clarify",
        "/v1/projects/{projectId}/answers",
        "/v1/projects/{projectId}/approve",
        "/v1/projects/{projectId}/regenerate",
        "/v1/projects/{projectId}/runs",
        "/v1/projects/{projectId}/runs/{runId}/cancel",
        "/v1/projects/{projectId}/runs/{runId}/retry",
        "/v1/projects/{projectId}/runs/{runId}/tasks/{taskId}",
        "/v1/projects/{projectId}/runs/{runId}/events/stream",
        "/v1/projects/{projectId}/files/{filePath}",
        "/v1/projects/{projectId}/export",
        "/v1/projects/{projectId}/exports/{exportId}/download",
        "/v1/projects/{projectId}/deploy",
        "/v1/projects/{projectId}/deployments/{deploymentId}",
        "/v1/admin/stats",
        "/v1/health",
        "/v1/auth/login",
    ):
        assert path in paths, path
    create = paths["/v1/projects"]["post"]["responses"]
    assert "201" in create and "422" not in create
    assert create["400"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorEnvelope")
    params = {p["name"] for p in paths["/v1/projects"]["get"]["parameters"]}
    # archived: beyond the contract (archived projects on request).
    assert params == {"page", "pageSize", "status", "search", "archived"}
