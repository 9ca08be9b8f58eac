"""API benchmark: the /v1 facade beside direct apiserver reads of the same objects.

  * GET /v1/projects (page of 20 out of 5,000 Projects) - p50/p99 latency and
    throughput, with the list snapshot cache on (default, PRAZIUM_LIST_CACHE_SECONDS=2)
    and off, beside a direct apiserver list of the same 5,000 objects;
  * GET /v1/projects/{id} beside a direct apiserver get;
  * SSE delivery latency (journal append -> frame received) with 200 subscribers
    following one run.

Run it with `make bench-api`: a throw-away control plane and PostgreSQL, no
operator (the SSE case drives a Run's journal itself; an operator would fail
that unapproved Run and end its stream early). `python bench/bench_api.py`
runs it against a stack of your own (PRAZIUM_DEV_DIR, PRAZIUM_DATABASE_URL)
whose operator does not watch the bench's namespaces.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
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
from kubernetes import client, config

from prazium_api.keys import create_key
from prazium_kit import journal
from prazium_kit.kube import API_VERSION, GROUP, VERSION
from tests.support.services import Stack, start_api

PROJECTS = int(os.environ.get("BENCH_PROJECTS", "5000"))
SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "200"))
# BENCH_ONLY=get: only the single-object GET beside a direct apiserver get.
ONLY_GET = os.environ.get("BENCH_ONLY") == "get"


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
    return {
        "case": name,
        "p50_ms": round(statistics.median(lat), 2),
        "p99_ms": round(pct(lat, 0.99), 2),
        "rps": round(rps, 1),
    }


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


async def sse_latency(base: str, key: str, namespace: str, dsn: str) -> list[float]:
    api = client.CustomObjectsApi()
    api.create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "runs",
        {
            "apiVersion": API_VERSION,
            "kind": "Run",
            "metadata": {"name": "bench-00000-r1"},
            "spec": {"projectRef": {"name": "bench-00000"}},
        },
    )
    url = f"{base}/v1/projects/proj_bench-00000/runs/run_bench-00000-r1/events/stream"
    latencies: list[float] = []
    ready = 0
    all_ready = asyncio.Event()
    events = 20
    limits = httpx.Limits(max_connections=SUBSCRIBERS + 10)

    async def subscriber(http: httpx.AsyncClient) -> None:
        nonlocal ready
        async with http.stream("GET", url, headers={"Authorization": f"Bearer {key}"}) as resp:
            ready += 1
            if ready == SUBSCRIBERS:
                all_ready.set()
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    data = json.loads(line[5:])
                    if "sentAt" in data:
                        latencies.append((time.time() - data["sentAt"]) * 1000)
                if line.startswith("event: RUN_COMPLETED"):
                    return

    def producer() -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            for i in range(events):
                journal.append(
                    conn,
                    namespace=namespace,
                    project="bench-00000",
                    run="bench-00000-r1",
                    event_type="FILE_CREATED",
                    task="task-001",
                    payload={"i": i, "sentAt": time.time()},
                )
                time.sleep(0.05)
            journal.append(
                conn,
                namespace=namespace,
                project="bench-00000",
                run="bench-00000-r1",
                event_type="RUN_COMPLETED",
                payload={"sentAt": time.time()},
            )

    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        tasks = [asyncio.create_task(subscriber(http)) for _ in range(SUBSCRIBERS)]
        await all_ready.wait()
        await asyncio.sleep(0.5)
        thread = threading.Thread(target=producer)
        thread.start()
        await asyncio.gather(*tasks)
        thread.join()
    return latencies


def run_bench(stack: Stack, work: Path) -> list[dict[str, float | str]]:
    core = client.CoreV1Api()
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        key = create_key(conn, namespace, "enterprise")[1]
    env = {"PRAZIUM_RATE_LIMIT_ENTERPRISE": "1000000000", "PRAZIUM_LOG_LEVEL": "WARNING"}
    cached, cached_base = start_api(stack, work, work / "logs-a", **env)
    uncached, uncached_base = start_api(
        stack, work, work / "logs-b", PRAZIUM_LIST_CACHE_SECONDS="0", **env
    )
    results = []
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
            assert a.get("/v1/projects").json()["pagination"]["total"] == PROJECTS
            if not ONLY_GET:
                results.extend(list_cases(a, b, crd, namespace))

            def direct_get() -> object:
                return crd.get_namespaced_custom_object(
                    GROUP, VERSION, namespace, "projects", "bench-02500"
                )

            results.append(
                row("direct apiserver get", timed(direct_get, 200), throughput(direct_get, 5))
            )
            results.append(
                row(
                    "GET /v1/projects/{id}",
                    timed(lambda: a.get("/v1/projects/proj_bench-02500"), 200),
                    throughput(lambda: a.get("/v1/projects/proj_bench-02500"), 5),
                )
            )
        if not ONLY_GET:
            lat = asyncio.run(sse_latency(cached_base, key, namespace, stack.database_url))
            results.append(
                {
                    "case": f"SSE delivery, {SUBSCRIBERS} subscribers",
                    "p50_ms": round(statistics.median(lat), 2),
                    "p99_ms": round(pct(lat, 0.99), 2),
                    "rps": len(lat),
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
        row("direct apiserver list (5000)", timed(direct_list, 10), throughput(direct_list, 5, 2)),
        row(
            "GET /v1/projects uncached",
            timed(lambda: b.get("/v1/projects"), 10),
            throughput(lambda: b.get("/v1/projects"), 5, 2),
        ),
        row(
            "GET /v1/projects cached(2s)",
            timed(lambda: a.get("/v1/projects"), 200),
            throughput(lambda: a.get("/v1/projects"), 5),
        ),
    ]


def report(results: list[dict[str, float | str]]) -> None:
    print(f"\n{'case':38} {'p50 ms':>9} {'p99 ms':>9} {'req/s':>9}")
    for r in results:
        print(f"{r['case']:38} {r['p50_ms']:>9} {r['p99_ms']:>9} {r['rps']:>9}")
    by = {r["case"]: r for r in results}

    def ratio(x: str, y: str, k: str) -> float:
        return round(float(by[x][k]) / float(by[y][k]), 2)

    print("\nratios (API / direct apiserver):")
    if "direct apiserver list (5000)" in by:
        print(
            "  list p50 uncached:",
            ratio("GET /v1/projects uncached", "direct apiserver list (5000)", "p50_ms"),
            " cached:",
            ratio("GET /v1/projects cached(2s)", "direct apiserver list (5000)", "p50_ms"),
        )
        print(
            "  list rps uncached:",
            ratio("GET /v1/projects uncached", "direct apiserver list (5000)", "rps"),
            " cached:",
            ratio("GET /v1/projects cached(2s)", "direct apiserver list (5000)", "rps"),
        )
    print(
        "  get  p50:",
        ratio("GET /v1/projects/{id}", "direct apiserver get", "p50_ms"),
        " rps:",
        ratio("GET /v1/projects/{id}", "direct apiserver get", "rps"),
    )


def test_bench_api(tmp_path: Path) -> None:
    """`make test PYTEST_ARGS="bench/bench_api.py -s"` runs it on a throw-away stack."""
    stack = Stack(
        kubeconfig=os.environ["PRAZIUM_TEST_KUBECONFIG"],
        database_url=os.environ["PRAZIUM_TEST_DATABASE_URL"],
        kubectl=os.environ["PRAZIUM_TEST_KUBECTL"],
    )
    config.load_kube_config(config_file=stack.kubeconfig)
    results = run_bench(stack, tmp_path)
    assert len(results) == (2 if ONLY_GET else 6)


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
