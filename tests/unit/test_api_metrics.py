"""The API's request histogram is labelled by route template (the /v1 prefix
included), never by a raw path."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from prazium_api.server import metrics


def _count(route: str, status: str, method: str = "GET") -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("prazium_http_request_duration_seconds_count", labels) or 0.0


def test_requests_are_counted_by_route_template_and_status() -> None:
    router = APIRouter()

    @router.get("/things/{thingId}")
    def thing(thingId: str) -> dict[str, str]:
        return {"id": thingId}

    @router.get("/files/{filePath:path}")
    def file(filePath: str) -> dict[str, str]:
        return {"path": filePath}

    app = FastAPI()
    app.include_router(router, prefix="/v1")
    app.add_route("/metrics", metrics.metrics_endpoint)
    app.add_middleware(metrics.MetricsMiddleware)
    before = {
        key: _count(*key)
        for key in [
            ("/v1/things/{thingId}", "200"),
            ("/v1/files/{filePath}", "200"),
            ("unmatched", "404"),
            ("/metrics", "200"),
        ]
    }
    client = TestClient(app)
    assert client.get("/v1/things/t-secret-1").status_code == 200
    assert client.get("/v1/things/t-secret-2").status_code == 200
    assert client.get("/v1/files/a/b/c.py").status_code == 200
    assert client.get("/v1/nothing/t-secret-3").status_code == 404
    page = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert "t-secret" not in page.text
    after = {key: _count(*key) for key in before}
    assert {key: after[key] - before[key] for key in before} == {
        ("/v1/things/{thingId}", "200"): 2,
        ("/v1/files/{filePath}", "200"): 1,
        ("unmatched", "404"): 1,
        ("/metrics", "200"): 1,
    }


def test_the_journal_is_timed_only_where_metrics_are_served() -> None:
    """A worker (no register()) records nothing and does not import prometheus_client;
    the API and the operator register the journal's histogram at import."""
    import subprocess
    import sys

    probe = (
        "import sys; import prazium_operator.worker.main, prazium_kit.journal;"
        " print('prometheus_client' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False"

    from prazium_kit import metrics as kit_metrics

    calls = []

    @kit_metrics.timed_journal_append
    def append() -> int:
        calls.append(1)
        return 7

    before = REGISTRY.get_sample_value("prazium_journal_append_duration_seconds_count") or 0.0
    assert append() == 7 and calls == [1]
    after = REGISTRY.get_sample_value("prazium_journal_append_duration_seconds_count")
    assert after == before + 1  # registered: prazium_api.metrics is imported here
