"""Benchmark: what observability costs - the API's metrics middleware per request, and
the worker's output capture (pipe, thread, capped kept log) per megabyte.

Reported: request latency p50/p95 of a small FastAPI app (one included router, as
the API has them) served in-process with and without MetricsMiddleware, and their
ratio; the throughput of a child process writing 64 MiB of log lines straight to a
file and through logcapture (capped at 1 MiB, echoed to /dev/null), and their ratio.

How to run (needs no cluster or database):

    .venv/bin/python bench/bench_obs.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastapi import APIRouter, FastAPI

from prazium_api.server import metrics

CHILD = """
import os, sys, time
from pathlib import Path
mode, path, megabytes = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
line = (b'{"level": "INFO", "message": "' + b"x" * 180 + b'"}\\n')
count = megabytes * 1024 * 1024 // len(line)
if mode == "capture":
    from prazium_operator.worker import logcapture
    capture = logcapture.start(path, 1024 * 1024)
    started = time.perf_counter()
    for _ in range(count):
        os.write(1, line)
    capture.close()
else:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    started = time.perf_counter()
    for _ in range(count):
        os.write(fd, line)
    os.close(fd)
print(time.perf_counter() - started, file=sys.stderr)
"""


def _app(with_metrics: bool) -> FastAPI:
    router = APIRouter()

    @router.get("/projects/{projectId}")
    def project(projectId: str) -> dict[str, str]:
        return {"id": projectId}

    app = FastAPI()
    app.include_router(router, prefix="/v1")
    if with_metrics:
        app.add_middleware(metrics.MetricsMiddleware)
    return app


async def _latencies(app: FastAPI, requests: int) -> list[float]:
    import httpx

    transport = httpx.ASGITransport(app=app)
    out = []
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for n in range(requests):
            started = time.perf_counter()
            response = await client.get(f"/v1/projects/proj_{n}")
            out.append(time.perf_counter() - started)
            assert response.status_code == 200
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_middleware(requests: int, rounds: int) -> None:
    plain: list[float] = []
    counted: list[float] = []
    for _ in range(rounds):  # interleaved, so load on the machine hits both alike
        plain += asyncio.run(_latencies(_app(False), requests))
        counted += asyncio.run(_latencies(_app(True), requests))
    p50 = (_pct(plain, 0.5), _pct(counted, 0.5))
    p95 = (_pct(plain, 0.95), _pct(counted, 0.95))
    print(f"requests: {len(plain)} each")
    print(f"  without metrics  p50 {p50[0] * 1e3:.3f} ms  p95 {p95[0] * 1e3:.3f} ms")
    print(f"  with metrics     p50 {p50[1] * 1e3:.3f} ms  p95 {p95[1] * 1e3:.3f} ms")
    print(f"  ratio p50 {p50[1] / p50[0]:.3f}  p95 {p95[1] / p95[0]:.3f}")


def bench_capture(megabytes: int, rounds: int) -> None:
    times: dict[str, list[float]] = {"direct": [], "capture": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            for mode, took in times.items():
                path = Path(tmp) / f"{mode}-{n}.log"
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, mode, str(path), str(megabytes)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    check=True,
                )
                took.append(float(done.stderr.decode().strip().splitlines()[-1]))
                kept = path.stat().st_size
                if mode == "capture":
                    assert kept < 1024 * 1024 + 200, kept
    direct, captured = statistics.median(times["direct"]), statistics.median(times["capture"])
    print(f"log output: {megabytes} MiB of 200-byte lines, median of {rounds}")
    print(f"  straight to a file  {megabytes / direct:.0f} MiB/s")
    print(f"  through logcapture  {megabytes / captured:.0f} MiB/s (kept log capped at 1 MiB)")
    print(f"  ratio (time) {captured / direct:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=64)
    args = parser.parse_args()
    bench_middleware(args.requests, args.rounds)
    bench_capture(args.megabytes, args.rounds)


if __name__ == "__main__":
    main()
