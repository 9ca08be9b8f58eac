"""Fuzz the published OpenAPI document against the live API with a valid key:
no generated request may produce a 500 (every other answer is a documented error).

Two passes: generated path parameters (mostly unknown ids: 404s), then the same
operations with path parameters seeded from real state - a built project with a
repository, a succeeded run with a task, a completed export, a deployment - so
bodies and query parameters are fuzzed against real handlers, not only 404s."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kubernetes import client

from prazium_api.auth.keys import create_key
from prazium_kit import journal
from tests.support import apistate
from tests.support.services import Stack, start_api, wait_for

pytestmark = pytest.mark.integration

# git's upload-pack request body (POST .../git/git-upload-pack) is raw pkt-lines, which
# schemathesis has no generator for: random bytes and a few well-formed requests, so the
# git route is fuzzed too (the real git client drives it in test_git_clone.py).
schemathesis.openapi.media_type(
    "application/x-git-upload-pack-request",
    st.one_of(
        st.binary(max_size=512),
        st.sampled_from(
            [b"0000", b"0009done\n0000", b"0032want 0000000000000000000000000000000000000000\n"]
        ),
    ),
)

FILES = {
    "README.md": b"# Shop\n",
    "app/__init__.py": b"NAME = 'Shop'\n",
    "app/__main__.py": b"print('shop')\n",
}
# Routes that wait for the operator (none runs here): with real ids they would
# answer the designed 500 OPERATOR_TIMEOUT, so they are fuzzed with generated ids.
WAITS_FOR_OPERATOR = {
    ("POST", "/v1/projects/{projectId}/clarify"),
    ("POST", "/v1/projects/{projectId}/answers"),
    ("POST", "/v1/projects/{projectId}/approve"),
    ("POST", "/v1/projects/{projectId}/regenerate"),
    ("POST", "/v1/projects/{projectId}/runs"),
    ("POST", "/v1/projects/{projectId}/runs/{runId}/retry"),
    ("POST", "/v1/projects/{projectId}/unarchive"),
}


@pytest.fixture(scope="module")
def fuzz_target(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, dict[str, str]]]:
    """One API process and one tenant with real state for the whole module:
    (base URL, key, real path parameters)."""
    namespace = f"t-fuzz-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    (tmp / "data").mkdir()
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        key = create_key(conn, namespace, "enterprise")[1]
        # The run's journal, to its final event (so its SSE stream ends).
        for event_type, task in (
            ("RUN_STARTED", None),
            ("TASK_STARTED", "task-001"),
            ("RUN_COMPLETED", None),
        ):
            journal.append(
                conn,
                namespace=namespace,
                project="shop",
                run="shop-r1",
                event_type=event_type,
                task=task,
                payload={},
            )
    apistate.create_project(namespace, "shop", "Shop")
    apistate.set_status(
        namespace, "projects", "shop", {"phase": "built", "spec": apistate.approved_spec()}
    )
    _, sha = apistate.make_repo(tmp / "data", namespace, "shop", FILES, tmp)
    apistate.create_run(
        namespace, "shop", "shop-r1", {"runNumber": 1, "phase": "succeeded", "mergedCommit": sha}
    )
    apistate.create_task(namespace, "shop", "shop-r1", 1, "ui-shell", {"phase": "succeeded"})
    # Fuzzed logins fail by the hundred from 127.0.0.1: a budget that lets the
    # fuzz go on, and that address's count dropped afterwards so later tests
    # (default budget) are not refused.
    proc, base = start_api(
        stack,
        tmp / "data",
        tmp / "logs",
        PRAZIUM_SYNC_TIMEOUT_SECONDS="1",
        PRAZIUM_RATE_LIMIT_ENTERPRISE="1000000",
        PRAZIUM_AUTH_FAILURES_PER_MINUTE="1000000",
    )
    with httpx.Client(
        base_url=f"{base}/v1", timeout=30, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        created = http.post("/projects/proj_shop/export", json={"runId": "run_shop-r1"})
        assert created.status_code == 202, created.text
        export_id = created.json()["data"]["id"]
        wait_for(
            lambda: (
                http.get(f"/projects/proj_shop/exports/{export_id}").json()["data"]["status"]
                == "completed"
            ),
            30,
            "the seeded export",
        )
        deployed = http.post(
            "/projects/proj_shop/deploy", json={"runId": "run_shop-r1", "provider": "kubernetes"}
        )
        assert deployed.status_code == 202, deployed.text
        deployment_id = deployed.json()["data"]["deploymentId"]
    real = {
        "projectId": "proj_shop",
        "runId": "run_shop-r1",
        "taskId": "task_001",
        "exportId": export_id,
        "deploymentId": deployment_id,
        "filePath": "app/__init__.py",
    }
    yield base, key, real
    proc.stop()
    core.delete_namespace(namespace)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rate_limit_windows WHERE key_id LIKE 'fail:127.0.0.1:%'")


def _fuzz(
    operation: Any,
    base: str,
    key: str,
    examples: int,
    calls: list[int],
    prepare: Callable[[schemathesis.Case], None],
) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        prepare(case)
        response = case.call(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=15)
        calls.append(response.status_code)
        if case.path == "/v1/health" and response.status_code == 503:
            return  # an honest "unhealthy": no operator runs in this test
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
        )
        if response.status_code >= 400:
            body = response.json()
            assert body["success"] is False and body["error"]["code"], body

    fuzz()


def test_no_generated_request_is_a_server_error(
    fuzz_target: tuple[str, str, dict[str, str]],
) -> None:
    """Every operation, bounded examples each (pytest 9 cannot host schemathesis'
    own parametrize, so hypothesis runs each operation's strategy here)."""
    base, key, real = fuzz_target
    schema = schemathesis.openapi.from_url(f"{base}/v1/openapi.json")
    failures: list[str] = []
    calls: list[int] = []
    seeded_calls: list[int] = []
    operations = [result.ok() for result in schema.get_all_operations()]

    def seed(case: schemathesis.Case) -> None:
        for name in list(case.path_parameters or {}):
            if name in real:
                case.path_parameters[name] = real[name]

    seedable = [
        op
        for op in operations
        if "{" in op.path and (op.method.upper(), op.path) not in WAITS_FOR_OPERATOR
    ]
    # Archiving the project and stopping the preview last keeps the state real
    # for the operations before them.
    seedable.sort(key=lambda op: op.method.upper() == "DELETE")
    runs = [(op, 40, calls, lambda case: None) for op in operations]
    runs += [(op, 15, seeded_calls, seed) for op in seedable]
    for operation, examples, sink, prepare in runs:
        started = time.monotonic()
        try:
            _fuzz(operation, base, key, examples, sink, prepare)
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:800])
        if time.monotonic() - started > 5:
            print(f"slow: {operation.label} took {time.monotonic() - started:.1f} s")
    assert len(operations) >= 25
    assert len(calls) >= 10 * len(operations), len(calls)  # really exercised, not skipped
    assert len(seedable) >= 12, [op.label for op in seedable]
    # Seeded requests reached real handlers: plenty of successes, not only 404s.
    assert sum(200 <= s < 300 for s in seeded_calls) >= 3 * len(seedable) // 2, seeded_calls
    for name, got in (("generated", calls), ("seeded", seeded_calls)):
        print(f"{name}: {len(got)} requests:", {s: got.count(s) for s in sorted(set(got))})
    assert not failures, "\n".join(failures)
