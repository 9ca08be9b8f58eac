"""`helm test`: run in the chart's own image (Python and httpx are there) against the API
Service, nothing else: no database, no Kubernetes API, no token.

    python -c "$SCRIPT" health   /v1/health healthy (operator heartbeat included), the
                                 dashboard and its vendored libraries served
    python -c "$SCRIPT" build    a small app built through the REST API with the key in
                                 PRAZIUM_API_KEY (its tenant), then the project archived

The Service is found through the variables Kubernetes gives every Pod for the Services
of its namespace (<NAME>_SERVICE_HOST/_PORT), so no cluster DNS is needed.
"""

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

Obj = dict[str, Any]

SERVICE = os.environ["PRAZIUM_TEST_SERVICE"]
TIMEOUT = float(os.environ.get("PRAZIUM_TEST_TIMEOUT_SECONDS", "900"))
PREFIX = SERVICE.upper().replace("-", "_")
HOST = os.environ.get(f"{PREFIX}_SERVICE_HOST") or f"{SERVICE}.{os.environ['POD_NAMESPACE']}.svc"
PORT = os.environ.get(f"{PREFIX}_SERVICE_PORT") or "80"
BASE = f"http://{HOST}:{PORT}"
# What the dashboard's pages load from static/vendor/ (scripts/web-vendor.sh makes it).
ASSETS = ["/", "/static/vendor/dagre.min.js", "/static/vendor/markdown-it.min.js"]
FINAL = {"succeeded", "failed", "cancelled"}


def say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def until(
    what: str, check: Callable[[], Obj | None], deadline: float, interval: float = 3.0
) -> Obj:
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.HTTPError as exc:
            result, last = None, exc
        if result:
            return result
        time.sleep(interval)
    sys.exit(f"FAIL: {what} not within {TIMEOUT:.0f} s (last error: {last!r})")


def health() -> None:
    deadline = time.monotonic() + TIMEOUT

    def healthy() -> Obj | None:
        body: Obj = httpx.get(f"{BASE}/v1/health", timeout=10).json()
        say(f"/v1/health: {body}")
        return body if body.get("status") == "healthy" else None

    body = until("/v1/health healthy", healthy, deadline)
    say(f"healthy, version {body.get('version')}")
    for path in ASSETS:
        answer = httpx.get(f"{BASE}{path}", timeout=10)
        if answer.status_code != 200 or not answer.content:
            sys.exit(f"FAIL: GET {path} answered {answer.status_code}: {answer.text[:200]}")
        say(f"GET {path}: 200, {len(answer.content)} bytes")


def build() -> None:
    deadline = time.monotonic() + TIMEOUT
    key = os.environ["PRAZIUM_API_KEY"].strip()
    with httpx.Client(
        base_url=f"{BASE}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as api:

        def call(method: str, path: str, want: int, **kwargs: Any) -> Any:
            answer = api.request(method, path, **kwargs)
            if answer.status_code != want:
                sys.exit(f"FAIL: {method} {path} answered {answer.status_code}: {answer.text}")
            return answer.json()["data"]

        name = f"helm test {time.strftime('%Y%m%d-%H%M%S')}"
        project = call(
            "POST",
            "/projects",
            201,
            json={"name": name, "description": "A todo list where users add and finish tasks."},
        )["id"]
        say(f"created project {project}")
        try:
            call("POST", f"/projects/{project}/clarify", 200)
            call("POST", f"/projects/{project}/answers", 200, json={"answers": []})
            call("POST", f"/projects/{project}/approve", 200)
            run = call("POST", f"/projects/{project}/runs", 201, json={})["id"]
            say(f"started run {run}")
            seen = [""]

            def finished() -> Obj | None:
                body: Obj = call("GET", f"/projects/{project}/runs/{run}", 200)
                if body["status"] != seen[-1]:
                    seen.append(body["status"])
                    say(f"run {run}: {body['status']}")
                return body if body["status"] in FINAL else None

            done = until(f"run {run} finished", finished, deadline, interval=5)
            if done["status"] != "succeeded":
                sys.exit(f"FAIL: run {run} {done['status']}: {done}")
            files = call("GET", f"/projects/{project}/files", 200, params={"path": "/"})
            if not files:
                sys.exit("FAIL: the built project has no files")
            say(f"run {run} succeeded; {len(files)} entries at the repository's root")
        finally:
            # The test leaves no project behind in the tenant's list.
            api.delete(f"/projects/{project}")
            say(f"archived project {project}")


if __name__ == "__main__":
    {"health": health, "build": build}[sys.argv[1]]()
