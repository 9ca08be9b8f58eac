"""Task logs over the API (finished, followed, truncated, tenant-isolated), the run's
verification output, and /metrics of the API and the operator moving with a build.

One real build: the operator (local executor, kept logs capped at 4 KiB) and the API
as child processes, the worker's coder a shell command that prints 300 lines on
task-001 and waits, so its log is truncated and can be followed while it runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.apistate import assert_error
from tests.support.build import create, kubectl_apply, tasks_of, wait_phase, wait_run_done
from tests.support.sandbox_python import python_line
from tests.support.services import ServiceProcess, Stack, free_port, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MARKER = re.compile(r"\[prazium: log truncated, (\d+) bytes omitted\]\n")
LOG_CAP = 4096
_TEMPLATE_FROM_WORKTREE = (
    "import json, os, pathlib\n"
    "from prazium_operator.agents import get_coder\n"
    "docs = {p.name: p.read_text() for p in pathlib.Path('docs/spec').glob('*.md')}\n"
    "get_coder('template').code(json.loads(os.environ['PRAZIUM_TASK_JSON']), docs,"
    " pathlib.Path('.'))\n"
)
# task-001: 300 numbered lines (far past the cap), then 12 s of quiet to follow it in.
NOISY_FIRST_TASK = (
    'if [ "$PRAZIUM_TASK_ID" = task-001 ]; then i=0; while [ $i -lt 300 ]; do'
    ' echo "noise line $i of the coder"; i=$((i+1)); done; echo "coder waits";'
    ' sleep 12; echo "coder done waiting"; fi; ' + python_line(_TEMPLATE_FROM_WORKTREE)
    # Python in a form the local sandbox's uid can run (tests/support/sandbox_python.py)
)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page: (name, sorted labels) -> value."""
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def other_tenant(namespace: str) -> Iterator[str]:
    """A second tenant (its own namespace), to look at the first one's logs."""
    from kubernetes import client

    name = f"{namespace}-other"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@pytest.fixture
def metrics_operator(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> Iterator[tuple[ServiceProcess, str]]:
    port = free_port()
    proc = start_operator(
        stack,
        data_dir,
        [namespace],
        tmp_path / "logs",
        PRAZIUM_TASK_LOG_MAX_BYTES=str(LOG_CAP),
        PRAZIUM_OPERATOR_METRICS_PORT=str(port),
        PRAZIUM_OPERATOR_METRICS_HOST="127.0.0.1",
    )
    url = f"http://127.0.0.1:{port}/metrics"

    def answers() -> bool:
        try:
            return httpx.get(url, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, 60, "the operator's /metrics", proc)
    yield proc, url
    proc.stop()


def test_task_logs_finished_followed_truncated_isolated_and_metrics_moved(
    stack: Stack,
    namespace: str,
    metrics_operator: tuple[ServiceProcess, str],
    api: str,
    client_for: Callable[[str], httpx.Client],
    make_key: Callable[..., str],
    other_tenant: str,
) -> None:
    operator, operator_metrics = metrics_operator
    http = client_for(make_key(namespace, "enterprise"))
    stranger = client_for(make_key(other_tenant, "enterprise"))
    api_before = scrape(f"{api}/metrics")
    operator_before = scrape(operator_metrics)
    assert value(operator_before, "prazium_worker_capacity") >= 1

    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator, timeout=120)
    create(
        namespace,
        "runs",
        "Run",
        "notes-logs",
        {
            "projectRef": {"name": "notes-gitops"},
            "agent": {"coder": "command", "command": NOISY_FIRST_TASK},
        },
    )
    base = "/projects/proj_notes-gitops/runs/run_notes-logs"
    task1 = f"{base}/tasks/task_001/logs"

    def first_task_phase() -> str | None:
        tasks = tasks_of(namespace, "notes-logs")
        first = next((t for t in tasks if t["spec"]["definition"]["id"] == "task-001"), None)
        return None if first is None else (first.get("status") or {}).get("phase")

    def first_task_prints() -> bool:
        if first_task_phase() != "running":
            return False
        response = http.get(task1)
        return response.status_code == 200 and b"noise line 0 of the coder" in response.content

    wait_for(first_task_prints, 120, "task-001 to print", operator, interval=0.2)
    # The verification has not run yet.
    assert_error(http.get(f"{base}/verification/logs"), 404, "NOT_FOUND")

    # Followed while it runs: the start at once, then the rest until the attempt ends.
    chunks: list[tuple[float, bytes]] = []
    followers_seen = -1.0
    phase_at_first_chunk = None
    started = time.monotonic()
    with http.stream("GET", task1, params={"follow": "true"}, timeout=120) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"] == "text/plain; charset=utf-8"
        assert stream.headers["x-prazium-attempt"] == "1"
        for chunk in stream.iter_bytes():
            if not chunks:
                phase_at_first_chunk = first_task_phase()
                followers_seen = value(scrape(f"{api}/metrics"), "prazium_log_followers")
            chunks.append((time.monotonic() - started, chunk))
    followed = b"".join(chunk for _, chunk in chunks).decode()
    assert followers_seen == 1.0
    # The start came while the attempt ran (the coder sleeping), the end only after it:
    # past the head, the capped log holds the rest until the attempt ends.
    assert phase_at_first_chunk == "running"
    assert b"noise line 0 of the coder" in chunks[0][1]
    assert b"coder done waiting" not in chunks[0][1]
    assert len(chunks) >= 2 and chunks[-1][0] - chunks[0][0] > 2.0, [at for at, _ in chunks]
    assert MARKER.search(followed), followed[-2000:]
    assert "coder done waiting" in followed
    assert followed.rstrip().splitlines()[-1].find("task task-001 attempt 1 succeeded") >= 0

    run = wait_run_done(namespace, "notes-logs", operator, timeout=180)
    assert run["status"]["phase"] == "succeeded", run["status"]

    # Finished: the same kept log, truncated around a marker, capped near 4 KiB.
    finished = http.get(task1)
    assert finished.status_code == 200
    assert finished.headers["x-prazium-attempt"] == "1"
    assert finished.headers["x-prazium-log-truncated"] == "true"
    text = finished.text
    assert text == followed
    assert len(finished.content) < LOG_CAP + 200
    [match] = MARKER.finditer(text)
    assert int(match.group(1)) > 300 * 20  # most of the 300 lines are gone, and say so
    # follow=true on a finished attempt answers at once, the same text.
    assert http.get(task1, params={"follow": "true"}).text == text
    last_two = http.get(task1, params={"tail": 2})
    assert last_two.status_code == 200 and last_two.text.count("\n") == 2
    assert text.endswith(last_two.text)
    assert http.get(task1, params={"attempt": 1}).text == text
    # A short log is whole; its lines are the worker's, naming the attempt.
    second = http.get(f"{base}/tasks/task_002/logs")
    assert second.status_code == 200 and second.headers["x-prazium-log-truncated"] == "false"
    assert "task task-002 attempt 1 started" in second.text
    assert "task task-002 attempt 1 succeeded" in second.text

    # Bad parameters and missing attempts use the contract's envelope.
    assert_error(http.get(task1, params={"attempt": 2}), 404, "NOT_FOUND")
    assert_error(http.get(task1, params={"attempt": 0}), 400, "VALIDATION_ERROR")
    assert_error(http.get(task1, params={"tail": 0}), 400, "VALIDATION_ERROR")
    assert_error(http.get(task1, params={"follow": "maybe"}), 400, "VALIDATION_ERROR")
    assert_error(http.get(f"{base}/tasks/task_099/logs"), 404, "NOT_FOUND")
    # Another tenant's key finds nothing of this tenant's.
    for path in (task1, f"{base}/verification/logs"):
        assert_error(stranger.get(path), 404, "NOT_FOUND")
        assert_error(stranger.get(path, params={"follow": "true"}), 404, "NOT_FOUND")

    # The verification's output: the generated app's own tests.
    verification = http.get(f"{base}/verification/logs")
    assert verification.status_code == 200, verification.text
    assert verification.headers["x-prazium-log-truncated"] == "false"
    assert re.search(r"Ran \d+ tests?", verification.text), verification.text[-500:]
    assert verification.text.rstrip().endswith("OK")

    # /metrics moved with the build: the operator's ...
    after = scrape(operator_metrics)
    tasks = len(tasks_of(namespace, "notes-logs"))
    assert value(after, "prazium_runs", phase="succeeded") == 1
    assert value(after, "prazium_tasks", phase="succeeded") == tasks
    assert value(after, "prazium_queue_depth", kind="tasks") == 0
    assert value(after, "prazium_running_workers") == 0
    assert value(after, "prazium_run_duration_seconds_count", phase="succeeded") == 1
    assert value(after, "prazium_run_duration_seconds_sum", phase="succeeded") > 8
    assert value(after, "prazium_task_duration_seconds_count", outcome="succeeded") == tasks
    assert value(after, "prazium_merge_duration_seconds_count") == 1
    assert value(after, "prazium_verification_duration_seconds_count", outcome="passed") == 1
    assert value(after, "prazium_journal_append_duration_seconds_count") > value(
        operator_before, "prazium_journal_append_duration_seconds_count"
    )
    assert ("prazium_reconcile_errors_total", (("kind", "run"),)) in after
    # ... and the API's: requests by route template and status, never a raw path.
    api_after = scrape(f"{api}/metrics")
    route = "/v1/projects/{projectId}/runs/{runId}/tasks/{taskId}/logs"
    counted = value(
        api_after,
        "prazium_http_request_duration_seconds_count",
        method="GET",
        route=route,
        status="200",
    ) - value(
        api_before,
        "prazium_http_request_duration_seconds_count",
        method="GET",
        route=route,
        status="200",
    )
    assert counted >= 7
    assert (
        value(
            api_after,
            "prazium_http_request_duration_seconds_count",
            method="GET",
            route=route,
            status="404",
        )
        >= 4
    )
    assert not [key for key in api_after if "notes-logs" in str(key)]
    assert value(api_after, "prazium_log_followers") == 0


def test_sse_subscribers_are_counted_while_streams_are_open(
    api: str,
    client_for: Callable[[str], httpx.Client],
    make_key: Callable[..., str],
    namespace: str,
) -> None:
    from tests.support.apistate import create_project, create_run

    create_project(namespace, "counted")
    create_run(namespace, "counted", "counted-1")
    http = client_for(make_key(namespace, "enterprise"))
    stream_path = "/projects/proj_counted/runs/run_counted-1/events/stream"
    before = value(scrape(f"{api}/metrics"), "prazium_sse_subscribers")
    with http.stream("GET", stream_path, timeout=30) as stream:
        assert stream.status_code == 200
        frames = stream.iter_bytes()  # held: a dropped iterator closes the stream
        next(frames)  # the retry: line: the stream is open
        assert value(scrape(f"{api}/metrics"), "prazium_sse_subscribers") == before + 1
    wait_for(
        lambda: value(scrape(f"{api}/metrics"), "prazium_sse_subscribers") == before,
        30,
        "the closed stream to be uncounted",
        None,
    )
    unmatched = httpx.get(f"{api}/v1/no/such/route/{namespace}")
    assert unmatched.status_code in (401, 404)
    samples = scrape(f"{api}/metrics")
    assert not [key for key in samples if namespace in str(key)]  # no raw path as a label
