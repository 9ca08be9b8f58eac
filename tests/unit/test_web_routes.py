"""The dashboard's routes without services: what / and /static serve (never a
file outside static/), the docs pages on local assets, the CSRF and origin checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from prazium_api import web
from prazium_api.auth import authn
from prazium_api.contract.errors import ApiError


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI(docs_url=None, redoc_url=None)
    web.install(app)
    return TestClient(app)


def test_index_is_the_app_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "connect-src 'self'" in policy
    assert "unsafe" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script src="/static/js/app.js" type="module">' in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from elsewhere


def test_static_serves_modules_and_nothing_outside(client: TestClient) -> None:
    module = client.get("/static/js/app.js")
    assert module.status_code == 200
    assert module.headers["content-type"].startswith("text/javascript")
    for path in ("/static/../routes.py", "/static/%2e%2e/routes.py", "/static/js/nope.js"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "import" not in answer.text


@pytest.mark.parametrize("path", ["/v1/docs", "/v1/redoc"])
def test_docs_load_only_local_assets(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert "/static/vendor/" in page.text
    assert "cdn" not in page.text and "fonts.googleapis" not in page.text


def _scope(method: str, headers: dict[str, str]) -> dict[str, object]:
    return {
        "type": "http",
        "method": method,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


def test_cross_origin_compares_origin_with_host() -> None:
    assert not authn.cross_origin(_scope("POST", {"Host": "a:1"}))
    assert not authn.cross_origin(_scope("POST", {"Host": "a:1", "Origin": "http://a:1"}))
    assert authn.cross_origin(_scope("POST", {"Host": "a:1", "Origin": "http://a:2"}))
    assert authn.cross_origin(_scope("POST", {"Host": "a:1", "Origin": "null"}))


def test_cookie_writes_need_the_sessions_token() -> None:
    session = "s3cret"
    token = authn.csrf_token(session)
    assert token != authn.csrf_token("other") and session not in token
    authn.check_csrf(_scope("GET", {"Host": "a"}), session)  # reads need none
    authn.check_csrf(_scope("POST", {"Host": "a", "X-CSRF-Token": token}), session)
    for headers in (
        {"Host": "a"},
        {"Host": "a", "X-CSRF-Token": authn.csrf_token("other")},
        {"Host": "a", "X-CSRF-Token": token, "Origin": "http://evil"},
    ):
        with pytest.raises(ApiError) as refused:
            authn.check_csrf(_scope("DELETE", headers), session)
        assert refused.value.code == "FORBIDDEN"


def test_every_module_a_page_imports_is_served(client: TestClient) -> None:
    """The dashboard has no build step: each relative import of each module must be a
    file /static serves (a missing one would blank the page in the browser)."""
    js = Path(web.__file__).parent / "static" / "js"
    imported = {
        target
        for module in js.glob("*.js")
        for target in re.findall(r'from "\./([\w-]+\.js)"', module.read_text())
    }
    assert {"previews.js", "logview.js", "nav.js"} <= imported
    for name in sorted(imported):
        answer = client.get(f"/static/js/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"].startswith("text/javascript"), name
