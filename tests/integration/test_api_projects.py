"""Projects over real HTTP: CRUD, tenancy, validation, the error envelope."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from prazium_kit.kube import GROUP, VERSION
from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration


def _create(
    http: httpx.Client,
    name: str = "My SaaS App",
    description: str = "A project management tool with task boards.",
) -> dict:
    response = http.post("/projects", json={"name": name, "description": description})
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def test_create_get_update_archive(http: httpx.Client, namespace: str) -> None:
    created = _create(http)
    assert created["id"].startswith("proj_my-saas-app-")
    assert len(created["id"]) == len("proj_") + len("my-saas-app-") + 6
    assert created["status"] == "draft"
    assert created["name"] == "My SaaS App"
    assert created["repoPath"].endswith(f"repos/{namespace}/{created['id'][5:]}.git")
    assert created["createdAt"] and created["updatedAt"]
    # The object is a real Project CR in the tenant's namespace.
    cr = apistate.crd().get_namespaced_custom_object(
        GROUP, VERSION, namespace, "projects", created["id"][5:]
    )
    assert cr["spec"]["displayName"] == "My SaaS App"

    got = http.get(f"/projects/{created['id']}").json()
    assert got["success"] is True
    assert got["data"]["id"] == created["id"]
    assert got["data"]["description"].startswith("A project management tool")
    assert "spec" in got["data"] and "repoPath" in got["data"]

    patched = http.patch(f"/projects/{created['id']}", json={"name": "Renamed"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["name"] == "Renamed"
    assert patched.json()["data"]["description"] == created["description"]

    deleted = http.delete(f"/projects/{created['id']}")
    assert deleted.status_code == 200
    assert deleted.json() == {"success": True, "data": {"id": created["id"], "status": "archived"}}
    assert http.get(f"/projects/{created['id']}").json()["data"]["status"] == "archived"


def test_list_paginates_filters_and_searches(http: httpx.Client, namespace: str) -> None:
    ids = [
        _create(http, f"App {i}", f"Description number {i} of a test app")["id"] for i in range(5)
    ]
    _create(http, "Kanban", "A kanban board with swimlanes and WIP limits")
    http.delete(f"/projects/{ids[0]}")

    page = http.get("/projects", params={"page": 2, "pageSize": 2}).json()
    assert page["pagination"] == {"page": 2, "pageSize": 2, "total": 6, "totalPages": 3}
    assert len(page["data"]) == 2
    everything = http.get("/projects", params={"pageSize": 100}).json()["data"]
    assert {p["id"] for p in everything} >= set(ids)
    first = everything[0]
    assert set(first) >= {"id", "name", "status", "latestRun", "createdAt", "updatedAt"}

    found = http.get("/projects", params={"search": "SWIMLANES"}).json()
    assert [p["name"] for p in found["data"]] == ["Kanban"]
    archived = http.get("/projects", params={"status": "archived"}).json()
    assert [p["id"] for p in archived["data"]] == [ids[0]]
    assert archived["pagination"]["total"] == 1

    # The contract's list has archived projects in it; archived=false leaves them out.
    assert ids[0] in {p["id"] for p in everything}
    active = http.get("/projects", params={"archived": "false", "pageSize": 100}).json()
    assert ids[0] not in {p["id"] for p in active["data"]}
    assert active["pagination"]["total"] == 5
    only = http.get("/projects", params={"archived": "true"}).json()["data"]
    assert [p["id"] for p in only] == [ids[0]]

    assert_error(http.get("/projects", params={"pageSize": 101}), 400, "VALIDATION_ERROR")
    assert_error(http.get("/projects", params={"page": 0}), 400, "VALIDATION_ERROR")
    assert_error(http.get("/projects", params={"archived": "maybe"}), 400, "VALIDATION_ERROR")
    assert_error(http.get("/projects", params={"status": "nope"}), 400, "VALIDATION_ERROR")


def test_project_created_with_kubectl_is_visible(http: httpx.Client, namespace: str) -> None:
    apistate.create_project(namespace, "from-kubectl", "Kubectl App")
    got = http.get("/projects/proj_from-kubectl")
    assert got.status_code == 200, got.text
    assert got.json()["data"]["name"] == "Kubectl App"


def test_validation_errors_name_the_fields_and_write_nothing(
    http: httpx.Client, namespace: str
) -> None:
    error = assert_error(
        http.post("/projects", json={"description": "short"}), 400, "VALIDATION_ERROR"
    )
    fields = {f["field"] for f in error["details"]["fields"]}
    assert fields == {"name", "description"}
    assert_error(
        http.post("/projects", content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "VALIDATION_ERROR",
    )
    assert_error(
        http.post("/projects", json={"name": "x", "description": "long enough text", "extra": 1}),
        400,
        "VALIDATION_ERROR",
    )
    items = apistate.crd().list_namespaced_custom_object(GROUP, VERSION, namespace, "projects")[
        "items"
    ]
    assert items == []


def test_body_over_the_limit_is_413_with_the_envelope(http: httpx.Client) -> None:
    big = "x" * 1_100_000
    assert_error(
        http.post("/projects", json={"name": "Big", "description": big}), 413, "VALIDATION_ERROR"
    )

    def chunks():  # no Content-Length: counted while it streams in
        for _ in range(20):
            yield b"x" * 100_000

    assert_error(
        http.post("/projects", content=chunks(), headers={"content-type": "application/json"}),
        413,
        "VALIDATION_ERROR",
    )


def test_auth_is_required_and_keys_must_be_valid(api: str) -> None:
    assert_error(httpx.get(f"{api}/v1/projects"), 401, "UNAUTHORIZED")
    assert_error(
        httpx.get(f"{api}/v1/projects", headers={"Authorization": "Bearer pzm_nope"}),
        401,
        "UNAUTHORIZED",
    )
    assert_error(
        httpx.get(f"{api}/v1/projects", headers={"Authorization": "Basic abc"}), 401, "UNAUTHORIZED"
    )


def test_credentials_are_checked_before_the_route_and_the_body(
    api: str, http: httpx.Client
) -> None:
    """Without credentials the answer is 401 whatever else is wrong with the request
    (an unknown route or method, a body that is not JSON or streams past the limit);
    with them, those requests are counted like any other (X-RateLimit-* headers)."""
    base = f"{api}/v1"

    def chunks():  # no Content-Length: counted while it streams in
        for _ in range(20):
            yield b"x" * 100_000

    for response in (
        httpx.get(f"{base}/nope"),
        httpx.put(f"{base}/projects"),
        httpx.post(
            f"{base}/projects", content=b"{not json", headers={"content-type": "application/json"}
        ),
        httpx.post(
            f"{base}/projects", content=chunks(), headers={"content-type": "application/json"}
        ),
    ):
        assert_error(response, 401, "UNAUTHORIZED")
        assert response.headers["www-authenticate"] == "Bearer"
        assert "x-ratelimit-limit" not in response.headers
    for response, status in (
        (http.get("/nope"), 404),
        (http.put("/projects"), 404),
        (
            http.post(
                "/projects", content=b"{not json", headers={"content-type": "application/json"}
            ),
            400,
        ),
        (
            http.post("/projects", content=chunks(), headers={"content-type": "application/json"}),
            413,
        ),
    ):
        assert response.status_code == status, response.text
        assert response.headers["x-ratelimit-limit"] == "1000"  # the enterprise tier
    remaining = [int(http.get("/nope").headers["x-ratelimit-remaining"]) for _ in range(2)]
    assert remaining[1] == remaining[0] - 1


def test_other_tenants_objects_are_not_found(
    http: httpx.Client,
    make_key: Callable[..., str],
    client_for: Callable[[str], httpx.Client],
    stack: object,
) -> None:
    from kubernetes import client

    mine = _create(http)
    other_ns = "t-other-" + mine["id"][-6:]
    client.CoreV1Api().create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=other_ns))
    )
    try:
        other = client_for(make_key(other_ns, "pro"))
        assert other.get("/projects").json()["data"] == []
        for response in (
            other.get(f"/projects/{mine['id']}"),
            other.patch(f"/projects/{mine['id']}", json={"name": "Stolen"}),
            other.delete(f"/projects/{mine['id']}"),
            other.post(f"/projects/{mine['id']}/clarify"),
            other.post(f"/projects/{mine['id']}/runs", json={}),
        ):
            assert_error(response, 404, "NOT_FOUND")
        assert http.get(f"/projects/{mine['id']}").json()["data"]["name"] == "My SaaS App"
    finally:
        client.CoreV1Api().delete_namespace(other_ns)


def test_unknown_routes_and_ids_answer_the_envelope(http: httpx.Client) -> None:
    assert_error(http.get("/nope"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/proj_missing-abcdef"), 404, "NOT_FOUND")
    assert_error(http.get("/projects/not-an-id"), 404, "NOT_FOUND")
    assert_error(http.put("/projects"), 404, "NOT_FOUND")


def test_spec_routes_refuse_out_of_order_calls(http: httpx.Client, namespace: str) -> None:
    project = _create(http)
    # No spec yet: nothing to approve or regenerate; no questions: nothing to answer.
    assert_error(http.post(f"/projects/{project['id']}/approve"), 409, "CONFLICT")
    assert_error(http.post(f"/projects/{project['id']}/regenerate", json={}), 409, "CONFLICT")
    answers = {"answers": [{"questionId": "q1", "answer": "x"}]}
    assert_error(http.post(f"/projects/{project['id']}/answers", json=answers), 409, "CONFLICT")
    assert_error(
        http.post(
            f"/projects/{project['id']}/answers",
            json={"answers": [{"questionId": "bad", "answer": 1.5}]},
        ),
        400,
        "VALIDATION_ERROR",
    )
    http.delete(f"/projects/{project['id']}")
    assert_error(http.post(f"/projects/{project['id']}/clarify"), 409, "CONFLICT")


def test_session_cookie_login_and_logout(api: str, api_key: str) -> None:
    with httpx.Client(base_url=f"{api}/v1") as web:
        assert_error(web.post("/auth/login", json={"apiKey": "pzm_wrong"}), 401, "UNAUTHORIZED")
        login = web.post("/auth/login", json={"apiKey": api_key})
        assert login.status_code == 200, login.text
        assert "prazium_session" in web.cookies
        cookie_header = login.headers["set-cookie"].lower()
        assert "httponly" in cookie_header and "samesite=lax" in cookie_header
        assert web.get("/projects").status_code == 200
        csrf = login.json()["data"]["csrfToken"]
        assert web.get("/auth/me").json()["data"]["csrfToken"] == csrf
        # A cookie-authenticated write without the token, or from another origin: 403.
        assert_error(web.post("/auth/logout"), 403, "FORBIDDEN")
        assert_error(
            web.post(
                "/auth/logout", headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"}
            ),
            403,
            "FORBIDDEN",
        )
        assert_error(
            web.post("/auth/login", json={"apiKey": api_key}, headers={"Origin": "null"}),
            403,
            "FORBIDDEN",
        )
        assert web.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
        web.cookies.clear()
        token = login.cookies["prazium_session"]
        assert_error(
            web.get("/projects", headers={"cookie": f"prazium_session={token}"}),
            401,
            "UNAUTHORIZED",
        )


def test_unarchive_gives_the_project_its_phase_back(
    http: httpx.Client, operator: ServiceProcess
) -> None:
    project = _create(http)
    base = f"/projects/{project['id']}"
    questions = http.post(f"{base}/clarify")
    assert questions.status_code == 200, questions.text
    # Not archived: answered as it is.
    same = http.post(f"{base}/unarchive")
    assert same.status_code == 200, same.text
    assert same.json()["data"] == {"id": project["id"], "status": "clarifying"}

    http.delete(base)
    assert http.get(base).json()["data"]["status"] == "archived"
    assert_error(http.post(f"{base}/clarify"), 409, "CONFLICT")
    back = http.post(f"{base}/unarchive")
    assert back.status_code == 200, back.text
    assert back.json()["data"] == {"id": project["id"], "status": "clarifying"}
    assert http.get(base).json()["data"]["status"] == "clarifying"
    assert http.post(f"{base}/clarify").status_code == 200  # writable again
    listed = http.get("/projects", params={"archived": "false"}).json()["data"]
    assert project["id"] in {p["id"] for p in listed}

    assert_error(http.post("/projects/proj_nope-abcdef/unarchive"), 404, "NOT_FOUND")
    assert_error(http.post("/projects/not-an-id/unarchive"), 404, "NOT_FOUND")
