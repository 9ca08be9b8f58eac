"""Fuzz the published OpenAPI document against the live API with a valid key:
no generated request may produce a 500 (every other answer is a documented error)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from kubernetes import client

from prazium_api.keys import create_key
from tests.support.services import Stack, start_api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fuzz_target(stack: Stack, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[str, str]]:
    """One API process and one tenant for the whole module: (base URL, key)."""
    namespace = f"t-fuzz-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    (tmp / "data").mkdir()
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        key = create_key(conn, namespace, "enterprise")[1]
    # Fuzzed logins fail by the hundred from 127.0.0.1: a budget that lets the
    # fuzz go on, and that address's count dropped afterwards so later tests
    # (default budget) are not refused.
    proc, base = start_api(stack, tmp / "data", tmp / "logs",
                           PRAZIUM_SYNC_TIMEOUT_SECONDS="1",
                           PRAZIUM_RATE_LIMIT_ENTERPRISE="1000000",
                           PRAZIUM_AUTH_FAILURES_PER_MINUTE="1000000")
    yield base, key
    proc.stop()
    core.delete_namespace(namespace)
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM rate_limit_windows WHERE key_id = 'ip:127.0.0.1'")


def test_no_generated_request_is_a_server_error(fuzz_target: tuple[str, str]) -> None:
    """Every operation, bounded examples each (pytest 9 cannot host schemathesis'
    own parametrize, so hypothesis runs each operation's strategy here)."""
    base, key = fuzz_target
    schema = schemathesis.openapi.from_url(f"{base}/v1/openapi.json")
    failures: list[str] = []
    operations = 0
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call(base_url=base, headers={"Authorization": f"Bearer {key}"},
                                 timeout=15)
            calls.append(response.status_code)
            if case.path == "/v1/health" and response.status_code == 503:
                return  # an honest "unhealthy": no operator runs in this test
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}:"
                f" {response.text[:300]}")
            if response.status_code >= 400:
                body = response.json()
                assert body["success"] is False and body["error"]["code"], body

        try:
            fuzz()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:800])
    assert operations >= 25
    assert len(calls) >= 10 * operations, len(calls)  # really exercised, not skipped
    print(f"fuzzed {operations} operations with {len(calls)} requests:",
          {status: calls.count(status) for status in sorted(set(calls))})
    assert not failures, "\n".join(failures)
