"""API benchmark: the /v1 facade beside direct apiserver reads of the same objects.

  * GET /v1/projects (page of 20 out of 5,000 Projects) - p50/p99 latency and
    throughput served from the watch-fed read cache (PRAZIUM_READ_CACHE, the
    default), beside a direct apiserver get of one object (the goal: list p99 at
    most 3x the get's p99) and, for reference, the old path that lists all 5,000
    per page and a direct apiserver list of the 5,000;
  * GET /v1/projects/{id} beside a direct apiserver get (goal: p50 at most 1.5x);
  * SSE delivery latency (journal append -> frame received) with 200 and 1,000
    subscribers following one run (goal at 1,000: p99 at most 100 ms), with the
    CPU seconds the API process and the bench's own client spent meanwhile (they
    share the machine's cores). The subscribers are raw HTTP/1.1 streams spread
    over BENCH_SSE_CLIENTS client processes (sse_client.py), so that the
    client's own reading costs as little as it can and is not one queue.

Run it with `make bench-api`: a throw-away control plane and PostgreSQL, no
operator (the SSE case drives a Run's journal itself; an operator would fail
that unapproved Run and end its stream early). `python bench/bench_api.py`
runs it against a stack of your own (PRAZIUM_DEV_DIR, PRAZIUM_DATABASE_URL)
whose operator does not watch the bench's namespaces.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
import sse_client
from kubernetes import client, config

from prazium_api.keys import create_key
from prazium_kit import journal
from prazium_kit.kube import API_VERSION, GROUP, VERSION
from tests.support.services import Stack, start_api

PROJECTS = int(os.environ.get("BENCH_PROJECTS", "5000"))
SUBSCRIBERS = [int(n) for n in os.environ.get("BENCH_SUBSCRIBERS", "200,1000").split(",")]
# The SSE subscribers' client processes (sse_client.py): the bench's own reading
# shares the machine's cores with the API, so it is spread out and kept cheap.
SSE_CLIENTS = int(os.environ.get("BENCH_SSE_CLIENTS", "4"))
# BENCH_ONLY=get: only the single-object GET beside a direct apiserver get.
ONLY_GET = os.environ.get("BENCH_ONLY") == "get"
MIDDLE = f"bench-{PROJECTS // 2:05d}"  # the Project the single-object cases read


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def throughput(fn: Callable[[], object], seconds: float, workers: int = 8) -> float:
    stop = time.monotonic() + seconds
    counts = [0] * workers

    def loop(i: int) -> None:
        while time.monotonic() < stop:
            fn()
            counts[i] += 1

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(loop, range(workers)))
    return sum(counts) / seconds


def row(name: str, lat: list[float], rps: float) -> dict[str, float | str]:
    measured: dict[str, float | str] = {
        "case": name,
        "p50_ms": round(statistics.median(lat), 2),
        "p99_ms": round(pct(lat, 0.99), 2),
        "rps": round(rps, 1),
    }
    print(measured, flush=True)
    return measured


def seed(namespace: str) -> list[str]:
    api = client.CustomObjectsApi()
    names = [f"bench-{i:05d}" for i in range(PROJECTS)]

    def make(name: str) -> None:
        api.create_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "projects",
            {
                "apiVersion": API_VERSION,
                "kind": "Project",
                "metadata": {"name": name},
                "spec": {
                    "displayName": f"Bench {name}",
                    "description": "A benchmark project with a long enough description.",
                },
            },
        )

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(make, names))
    return names


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def produce(dsn: str, namespace: str, run: str, events: int = 20) -> None:
    """Append events 50 ms apart, each stamped with its send time, then the final one."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(events):
            journal.append(
                conn,
                namespace=namespace,
                project="bench-00000",
                run=run,
                event_type="FILE_CREATED",
                task="task-001",
                payload={"i": i, "sentAt": time.time()},
            )
            time.sleep(0.05)
        journal.append(
            conn,
            namespace=namespace,
            project="bench-00000",
            run=run,
            event_type="RUN_COMPLETED",
            payload={"sentAt": time.time()},
        )


async def sse_latency(
    base: str, key: str, namespace: str, dsn: str, subscribers: int, api_pid: int, run: str
) -> tuple[list[float], float, float, int]:
    """(latencies ms, API CPU-s, bench client CPU-s, frames received) while 20
    events are delivered to `subscribers` streams of one run."""
    api = client.CustomObjectsApi()
    api.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "runs",
        {
            "apiVersion": API_VERSION,
            "kind": "Run",
            "metadata": {"name": run},
            "spec": {"projectRef": {"name": "bench-00000"}},
        },
    )
    host, port = base.removeprefix("http://").split(":")
    path = f"/v1/projects/proj_bench-00000/runs/run_{run}/events/stream"
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        "Accept: text/event-stream\r\n\r\n"
    ).encode()
    clients = sse_client.Subscribers(host, int(port), request, subscribers, SSE_CLIENTS)
    refused = await asyncio.to_thread(clients.wait_ready)
    if refused:
        print(f"{refused} stream opens answered 503 and retried", flush=True)
    await asyncio.sleep(1.0)
    api_before, bench_before = cpu_seconds(api_pid), time.process_time()
    thread = threading.Thread(target=produce, args=(dsn, namespace, run))
    thread.start()
    latencies, client_cpu = await asyncio.to_thread(clients.results)
    thread.join()
    api_cpu = cpu_seconds(api_pid) - api_before
    # The bench process itself (the producer thread, waiting) counts as client too.
    client_cpu += time.process_time() - bench_before
    return latencies, api_cpu, client_cpu, len(latencies)


def run_bench(stack: Stack, work: Path) -> list[dict[str, float | str]]:
    core = client.CoreV1Api()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        key = create_key(conn, namespace, "enterprise")[1]
    env = {"PRAZIUM_RATE_LIMIT_ENTERPRISE": "1000000000", "PRAZIUM_LOG_LEVEL": "WARNING"}
    cached, cached_base = start_api(stack, work, work / "logs-a", PRAZIUM_READ_CACHE="true", **env)
    uncached, uncached_base = start_api(
        stack,
        work,
        work / "logs-b",
        PRAZIUM_READ_CACHE="false",
        PRAZIUM_LIST_CACHE_SECONDS="0",
        **env,
    )
    results: list[dict[str, float | str]] = []
    try:
        t = time.monotonic()
        seed(namespace)
        print(f"seeded {PROJECTS} Projects in {time.monotonic() - t:.1f} s", flush=True)
        headers = {"Authorization": f"Bearer {key}"}
        crd = client.CustomObjectsApi()
        with (
            httpx.Client(base_url=cached_base, headers=headers, timeout=60) as a,
            httpx.Client(base_url=uncached_base, headers=headers, timeout=60) as b,
        ):
            # The watch has delivered every seeded Project before the cache is timed.
            deadline = time.monotonic() + 120
            while a.get("/v1/projects").json()["pagination"]["total"] != PROJECTS:
                assert time.monotonic() < deadline, "the read cache never saw every Project"
                time.sleep(0.2)

            def direct_get() -> object:
                return crd.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, "projects", MIDDLE
                )

            results.append(
                row("direct apiserver get", timed(direct_get, 300), throughput(direct_get, 5))
            )
            if not ONLY_GET:
                results.extend(list_cases(a, b, crd, namespace))
            results.append(
                row(
                    "GET /v1/projects/{id}",
                    timed(lambda: a.get(f"/v1/projects/proj_{MIDDLE}"), 300),
                    throughput(lambda: a.get(f"/v1/projects/proj_{MIDDLE}"), 5),
                )
            )
        if not ONLY_GET:
            for number, subscribers in enumerate(SUBSCRIBERS):
                lat, api_cpu, client_cpu, frames = asyncio.run(
                    sse_latency(
                        cached_base,
                        key,
                        namespace,
                        stack.database_url,
                        subscribers,
                        cached.pid,
                        f"bench-00000-r{number + 1}",
                    )
                )
                results.append(
                    {
                        "case": f"SSE delivery, {subscribers} subscribers",
                        "p50_ms": round(statistics.median(lat), 2),
                        "p99_ms": round(pct(lat, 0.99), 2),
                        "rps": frames,
                        "api_cpu_s": round(api_cpu, 2),
                        "client_cpu_s": round(client_cpu, 2),
                    }
                )
    finally:
        cached.stop()
        uncached.stop()
        core.delete_namespace(namespace)
    report(results)
    return results


def list_cases(
    a: httpx.Client, b: httpx.Client, crd: client.CustomObjectsApi, namespace: str
) -> list[dict[str, float | str]]:
    def direct_list() -> object:
        return crd.list_namespaced_custom_object(GROUP, VERSION, namespace, "projects")

    return [
        row(
            f"direct apiserver list ({PROJECTS})",
            timed(direct_list, 10),
            throughput(direct_list, 5, 2),
        ),
        row(
            "GET /v1/projects, no cache",
            timed(lambda: b.get("/v1/projects"), 10),
            throughput(lambda: b.get("/v1/projects"), 5, 2),
        ),
        row(
            "GET /v1/projects",
            timed(lambda: a.get("/v1/projects"), 300),
            throughput(lambda: a.get("/v1/projects"), 5),
        ),
        row(
            "GET /v1/projects?page=100",
            timed(lambda: a.get("/v1/projects", params={"page": 100}), 100),
            throughput(lambda: a.get("/v1/projects", params={"page": 100}), 3),
        ),
    ]


def report(results: list[dict[str, float | str]]) -> None:
    print(f"\n{'case':38} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9}")
    for r in results:
        extra = ""
        if "api_cpu_s" in r:
            extra = (
                f"  (frames; API {r['api_cpu_s']} CPU-s, bench client {r['client_cpu_s']} CPU-s)"
            )
        print(f"{r['case']:38} {r['p50_ms']:>9} {r['p99_ms']:>9} {r['rps']:>9}{extra}")
    by = {r["case"]: r for r in results}

    def ratio(x: str, y: str, k: str) -> float:
        return round(float(by[x][k]) / float(by[y][k]), 2)

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("\ngoals, side by side in this run:")
    get = "direct apiserver get"
    if "GET /v1/projects" in by:
        list_p99 = ratio("GET /v1/projects", get, "p99_ms")
        print(
            f"  GET /v1/projects p99 / direct get p99:      {list_p99:>6}  goal <= 3    "
            f"{verdict(list_p99 <= 3)}"
        )
        print(
            "  (list p50 / direct get p50:",
            ratio("GET /v1/projects", get, "p50_ms"),
            "; page 100 p99 / direct get p99:",
            ratio("GET /v1/projects?page=100", get, "p99_ms"),
            "; no-cache list p50 / direct list p50:",
            ratio("GET /v1/projects, no cache", f"direct apiserver list ({PROJECTS})", "p50_ms"),
            ")",
        )
    get_p50 = ratio("GET /v1/projects/{id}", get, "p50_ms")
    print(
        f"  GET /v1/projects/{{id}} p50 / direct get p50: {get_p50:>6}  goal <= 1.5  "
        f"{verdict(get_p50 <= 1.5)}"
    )
    print(f"  (get rps / direct get rps: {ratio('GET /v1/projects/{id}', get, 'rps')})")
    for r in results:
        if str(r["case"]).startswith("SSE delivery, 1000 "):
            p99 = float(r["p99_ms"])
            print(
                f"  SSE 1,000 subscribers delivery p99 ms:      {p99:>6}  goal <= 100  "
                f"{verdict(p99 <= 100)}"
            )


@pytest.mark.timeout(3600)
def test_bench_api(tmp_path: Path) -> None:
    """`make test PYTEST_ARGS="bench/bench_api.py -s"` runs it on a throw-away stack."""
    stack = Stack(
        kubeconfig=os.environ["PRAZIUM_TEST_KUBECONFIG"],
        database_url=os.environ["PRAZIUM_TEST_DATABASE_URL"],
        kubectl=os.environ["PRAZIUM_TEST_KUBECTL"],
    )
    config.load_kube_config(config_file=stack.kubeconfig)
    results = run_bench(stack, tmp_path)
    assert len(results) == (2 if ONLY_GET else 6 + len(SUBSCRIBERS))


def main() -> None:
    dev = Path(os.environ.get("PRAZIUM_DEV_DIR", ".dev"))
    kubeconfig = os.environ.get("PRAZIUM_KUBECONFIG") or str(dev / "kubeconfig")
    dsn = os.environ["PRAZIUM_DATABASE_URL"]
    config.load_kube_config(config_file=kubeconfig)
    stack = Stack(kubeconfig=kubeconfig, database_url=dsn, kubectl=str(dev / "bin" / "kubectl"))
    with tempfile.TemporaryDirectory() as tmp:
        run_bench(stack, Path(tmp))


if __name__ == "__main__":
    main()
