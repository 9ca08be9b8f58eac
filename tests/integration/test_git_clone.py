"""git clone / fetch of a project's repository through the API's smart-HTTP URL,
with the real git client against the real API on loopback (and, for the tags per
run, the real operator building twice)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client

from prazium_kit import paths
from tests.support import apistate
from tests.support.apistate import assert_error
from tests.support.build import create, kubectl_apply, wait_phase, wait_run_done
from tests.support.gitclient import bearer, run_git, with_password
from tests.support.services import ROOT, ServiceProcess, Stack, start_api

pytestmark = pytest.mark.integration

FILES = {"README.md": b"# Clone me\n", "app/__init__.py": b"NAME = 'clone'\n"}
UPLOAD_PACK = "application/x-git-upload-pack-advertisement"


@pytest.fixture
def built(namespace: str, data_dir: Path, tmp_path: Path) -> str:
    """Project "my-saas" with a real bare repository (main and tag v1); main's sha."""
    apistate.create_project(namespace, "my-saas", "My SaaS App")
    _, sha = apistate.make_repo(data_dir, namespace, "my-saas", FILES, tmp_path)
    return sha


@pytest.fixture
def other_namespace() -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name, propagation_policy="Background")


def _clone_url(http: httpx.Client, project_id: str) -> str:
    got = http.get(f"/projects/{project_id}")
    assert got.status_code == 200, got.text
    return str(got.json()["data"]["cloneUrl"])


def test_projects_answer_their_clone_url(http: httpx.Client, api: str, built: str) -> None:
    expected = f"{api}/v1/projects/proj_my-saas/git"
    assert _clone_url(http, "proj_my-saas") == expected
    listed = http.get("/projects").json()["data"]
    assert [p["cloneUrl"] for p in listed] == [expected]
    created = http.post(
        "/projects", json={"name": "Another", "description": "Another app to clone later."}
    )
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["cloneUrl"] == f"{api}/v1/projects/{data['id']}/git"


def test_clone_with_the_key_as_password_or_bearer(
    http: httpx.Client, api_key: str, built: str, tmp_path: Path
) -> None:
    url = _clone_url(http, "proj_my-saas")
    home = tmp_path / "home"
    run_git(home, "clone", "--quiet", with_password(url, api_key), "by-password")
    clone = home / "by-password"
    assert run_git(home, "rev-parse", "HEAD", cwd=clone).stdout.strip() == built
    assert (clone / "README.md").read_bytes() == FILES["README.md"]
    assert run_git(home, "tag", cwd=clone).stdout.split() == ["v1"]

    run_git(home, *bearer(api_key), "clone", "--quiet", "--depth=1", url, "by-bearer")
    assert run_git(home, "rev-parse", "HEAD", cwd=home / "by-bearer").stdout.strip() == built
    run_git(home, *bearer(api_key), "clone", "--quiet", "--filter=blob:none", url, "partial")
    partial = home / "partial"
    assert (partial / "app" / "__init__.py").read_bytes() == FILES["app/__init__.py"]
    assert run_git(home, "config", "remote.origin.promisor", cwd=partial).stdout.strip() == "true"
    # Both wire protocols git speaks over HTTP.
    for version in ("0", "2"):
        refs = run_git(
            home, *bearer(api_key), "-c", f"protocol.version={version}", "ls-remote", url
        )
        assert f"{built}\trefs/heads/main" in refs.stdout, refs.stdout


def test_missing_or_wrong_key_and_other_tenants_are_refused(
    http: httpx.Client,
    api: str,
    built: str,
    tmp_path: Path,
    make_key: Callable[..., str],
    other_namespace: str,
) -> None:
    url = _clone_url(http, "proj_my-saas")
    refs = f"{url}/info/refs?service=git-upload-pack"
    # No credentials: 401 with the challenge git answers with Basic credentials.
    anonymous = httpx.get(refs)
    assert_error(anonymous, 401, "UNAUTHORIZED")
    assert anonymous.headers["www-authenticate"] == 'Basic realm="prazium"'
    home = tmp_path / "home"
    failed = run_git(home, "clone", url, "anonymous", check=False)
    assert failed.returncode != 0 and not (home / "anonymous").exists()

    wrong = run_git(home, "clone", with_password(url, "pzm_" + "0" * 43), "wrong", check=False)
    assert wrong.returncode != 0
    assert "Authentication failed" in wrong.stderr, wrong.stderr
    basic_wrong = httpx.get(refs, headers={"Authorization": _basic("x", "pzm_nope")})
    assert_error(basic_wrong, 401, "UNAUTHORIZED")

    # Another tenant's valid key: the project does not exist for it.
    other = make_key(other_namespace, "enterprise")
    foreign = run_git(home, "clone", with_password(url, other), "foreign", check=False)
    assert foreign.returncode != 0 and "not found" in foreign.stderr.lower(), foreign.stderr
    assert_error(httpx.get(refs, headers={"Authorization": _basic("x", other)}), 404, "NOT_FOUND")


def test_push_is_refused_and_only_the_smart_protocol_is_served(
    http: httpx.Client, api_key: str, data_dir: Path, namespace: str, built: str, tmp_path: Path
) -> None:
    url = _clone_url(http, "proj_my-saas")
    home = tmp_path / "home"
    run_git(home, "clone", "--quiet", with_password(url, api_key), "work")
    work = home / "work"
    (work / "new.txt").write_text("mine\n")
    run_git(home, "add", "new.txt", cwd=work)
    run_git(home, "commit", "--quiet", "-m", "try to push", cwd=work)
    pushed = run_git(home, "push", "origin", "main", cwd=work, check=False)
    assert pushed.returncode != 0 and "403" in pushed.stderr, pushed.stderr
    bare = paths.repo_path(data_dir, namespace, "my-saas")
    assert apistate.git(bare, "rev-parse", "main") == built  # untouched

    auth = {"Authorization": _basic("x", api_key)}
    receive = httpx.get(f"{url}/info/refs?service=git-receive-pack", headers=auth)
    assert_error(receive, 403, "FORBIDDEN")
    posted = httpx.post(
        f"{url}/git-receive-pack",
        headers={**auth, "Content-Type": "application/x-git-receive-pack-request"},
        content=b"0000",
    )
    assert_error(posted, 403, "FORBIDDEN")
    assert_error(httpx.get(f"{url}/info/refs", headers=auth), 400, "VALIDATION_ERROR")
    # A counted request carries the key's rate-limit headers, as on every route.
    advert = httpx.get(f"{url}/info/refs?service=git-upload-pack", headers=auth)
    assert advert.status_code == 200 and advert.headers["content-type"] == UPLOAD_PACK
    assert int(advert.headers["x-ratelimit-limit"]) > 0


def test_git_requests_count_against_the_key_rate_limit(
    stack: Stack,
    data_dir: Path,
    namespace: str,
    built: str,
    tmp_path: Path,
    make_key: Callable[..., str],
) -> None:
    proc, base = start_api(stack, data_dir, tmp_path / "logs", PRAZIUM_RATE_LIMIT_FREE="3")
    try:
        key = make_key(namespace, "free")
        url = f"{base}/v1/projects/proj_my-saas/git"
        home = tmp_path / "home"
        # A clone is an advertisement and an upload-pack request: the second clone
        # goes over 3 per minute (a minute boundary may reset it once, hence 4 tries).
        outcomes = [
            run_git(home, *bearer(key), "clone", "--quiet", url, f"c{n}", check=False)
            for n in range(4)
        ]
        assert outcomes[0].returncode == 0, outcomes[0].stderr
        limited = [o for o in outcomes if o.returncode != 0]
        assert limited and "429" in limited[0].stderr, [o.stderr for o in outcomes]
        refused = httpx.get(
            f"{url}/info/refs?service=git-upload-pack", headers={"Authorization": f"Bearer {key}"}
        )
        if refused.status_code == 429:  # unless a new minute began just now
            assert_error(refused, 429, "RATE_LIMITED")
            assert refused.headers["x-ratelimit-limit"] == "3"
    finally:
        proc.stop()


def test_clone_then_fetch_sees_a_tag_per_succeeded_run(
    stack: Stack,
    namespace: str,
    operator: ServiceProcess,
    http: httpx.Client,
    api_key: str,
    tmp_path: Path,
) -> None:
    kubectl_apply(stack, namespace, ROOT / "examples" / "project-gitops.yaml")
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)
    create(namespace, "runs", "Run", "notes-one", {"projectRef": {"name": "notes-gitops"}})
    first = wait_run_done(namespace, "notes-one", operator)["status"]
    assert first["phase"] == "succeeded", first.get("message")

    url = _clone_url(http, "proj_notes-gitops")
    home = tmp_path / "home"
    run_git(home, *bearer(api_key), "clone", "--quiet", url, "notes")
    clone = home / "notes"
    assert run_git(home, "rev-parse", "HEAD", cwd=clone).stdout.strip() == first["mergedCommit"]
    tag_one = run_git(home, "rev-parse", "run-run_notes-one^{commit}", cwd=clone)
    assert tag_one.stdout.strip() == first["mergedCommit"]
    assert (clone / "docs" / "spec" / "SPEC.md").exists()

    create(namespace, "runs", "Run", "notes-two", {"projectRef": {"name": "notes-gitops"}})
    second = wait_run_done(namespace, "notes-two", operator)["status"]
    assert second["phase"] == "succeeded", second.get("message")
    run_git(home, *bearer(api_key), "fetch", "--quiet", "--tags", "origin", cwd=clone)
    tags = run_git(home, "tag", cwd=clone).stdout.split()
    assert tags == ["run-run_notes-one", "run-run_notes-two"], tags
    tag_two = run_git(home, "rev-parse", "run-run_notes-two^{commit}", cwd=clone)
    assert tag_two.stdout.strip() == second["mergedCommit"]
    origin = run_git(home, "rev-parse", "origin/main", cwd=clone).stdout.strip()
    assert origin == second["mergedCommit"]


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
