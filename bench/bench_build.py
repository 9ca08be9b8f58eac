"""Benchmark: end-to-end time of a build, orchestration overhead vs worker time, parallelism.

What it does: starts the real operator (local executor) against the real control
plane and PostgreSQL, applies two identical Projects (the answered todo app of
examples/project-answered.yaml: 6 tasks, a DAG with parallel branches) and
builds one with parallelism 1 and the other with parallelism 3, one after the
other, ``--repeat`` times. All timings come from the journal's timestamps
(PostgreSQL ``now()`` at append), so they measure what a client watching the
event stream sees.

Reported per parallelism:
  wall        RUN_STARTED -> final event
  admit       Run created -> RUN_STARTED (run number, approval, slot)
  plan        RUN_STARTED -> PLAN_CREATED (decompose + validate)
  busy        time during which at least one worker was running
              (union of TASK_STARTED..TASK_COMPLETED intervals)
  overhead    wall - busy: scheduling gaps, worker start-up before TASK_STARTED,
              merge, verification, status writes
  merge / verify   MERGE_STARTED..MERGE_COMPLETED, VERIFICATION_STARTED..COMPLETED
  worker sum  sum of task durations (TASK_STARTED..TASK_COMPLETED)
  overlap     worker sum / busy: mean number of workers running while any ran
  task p50/p90/max, start latency p50/p90 (TASK_QUEUED -> TASK_STARTED: spawn +
  interpreter start-up + imports)

How to run (starts a throw-away control plane + PostgreSQL, like `make test`):

    PRAZIUM_TEST_DEV_DIR=/tmp/pz-bench make bench-build    # or:
    PRAZIUM_TEST_DEV_DIR=/tmp/pz-bench scripts/test.sh bench/bench_build.py -q -s

or, against a stack you started yourself, with PRAZIUM_TEST_KUBECONFIG,
PRAZIUM_TEST_DATABASE_URL and PRAZIUM_TEST_KUBECTL set:

    python bench/bench_build.py --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "kit"), str(ROOT / "operator")]

import yaml  # noqa: E402
from kubernetes import client, config  # noqa: E402

from tests.support.build import (  # noqa: E402
    create,
    events,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.services import Stack, start_operator, wait_for  # noqa: E402

EXAMPLE = ROOT / "examples" / "project-answered.yaml"


def _seconds(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds()


def _union_length(intervals: list[tuple[dt.datetime, dt.datetime]]) -> float:
    total = 0.0
    end: dt.datetime | None = None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += _seconds(start, stop)
            end = stop
        elif stop > end:
            total += _seconds(end, stop)
            end = stop
    return total


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(journal: list[dict[str, Any]], created_at: dt.datetime) -> dict[str, float]:
    first = {}
    for event in journal:
        first.setdefault((event["type"], event["task"]), event["at"])
    tasks = sorted({e["task"] for e in journal if e["task"]})
    spans = [(first[("TASK_STARTED", t)], first[("TASK_COMPLETED", t)]) for t in tasks]
    durations = [_seconds(a, b) for a, b in spans]
    latencies = [_seconds(first[("TASK_QUEUED", t)], first[("TASK_STARTED", t)]) for t in tasks]
    start = first[("RUN_STARTED", None)]
    wall = _seconds(start, journal[-1]["at"])
    busy = _union_length(spans)
    return {
        "tasks": float(len(tasks)),
        "wall": wall,
        "admit": _seconds(created_at, start),
        "plan": _seconds(start, first[("PLAN_CREATED", None)]),
        "busy": busy,
        "overhead": wall - busy,
        "merge": _seconds(first[("MERGE_STARTED", None)], first[("MERGE_COMPLETED", None)]),
        "verify": _seconds(
            first[("VERIFICATION_STARTED", None)], first[("VERIFICATION_COMPLETED", None)]
        ),
        "worker_sum": sum(durations),
        "overlap": sum(durations) / busy if busy else 0.0,
        "task_p50": _pct(durations, 0.5),
        "task_p90": _pct(durations, 0.9),
        "task_max": max(durations),
        "start_latency_p50": _pct(latencies, 0.5),
        "start_latency_p90": _pct(latencies, 0.9),
    }


def build_once(
    stack: Stack, namespace: str, name: str, parallelism: int, operator: Any
) -> dict[str, float]:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    create(namespace, "projects", "Project", name, manifest["spec"])
    wait_phase(namespace, "projects", name, {"approved"}, operator, timeout=60)
    run_name = f"{name}-run"
    run = create(
        namespace,
        "runs",
        "Run",
        run_name,
        {"projectRef": {"name": name}, "parallelism": parallelism},
    )
    created_at = dt.datetime.fromisoformat(run["metadata"]["creationTimestamp"])
    done = wait_run_done(namespace, run_name, operator, timeout=300)
    if done["status"]["phase"] != "succeeded":
        raise RuntimeError(f"{run_name} {done['status']['phase']}: {done['status'].get('message')}")
    journal = wait_final_event(stack.database_url, namespace, run_name, operator)
    # creationTimestamp has one-second resolution: admit is approximate.
    return measure(journal or events(stack.database_url, namespace, run_name), created_at)


ROWS = [
    "tasks",
    "wall",
    "admit",
    "plan",
    "busy",
    "overhead",
    "merge",
    "verify",
    "worker_sum",
    "overlap",
    "task_p50",
    "task_p90",
    "task_max",
    "start_latency_p50",
    "start_latency_p90",
]


def report(results: dict[int, list[dict[str, float]]]) -> str:
    levels = sorted(results)
    lines = [
        f"{'metric (s, median of runs)':<28}" + "".join(f"{f'parallelism {p}':>16}" for p in levels)
    ]
    medians = {p: {k: statistics.median(r[k] for r in results[p]) for k in ROWS} for p in levels}
    for key in ROWS:
        lines.append(f"{key:<28}" + "".join(f"{medians[p][key]:>16.3f}" for p in levels))
    if len(levels) >= 2:
        low, high = levels[0], levels[-1]
        lines.append("")
        lines.append(
            f"speed-up wall p{low}/p{high}:        "
            f"{medians[low]['wall'] / medians[high]['wall']:.2f}x"
        )
        lines.append(
            f"speed-up busy p{low}/p{high}:        "
            f"{medians[low]['busy'] / medians[high]['busy']:.2f}x"
        )
        for p in levels:
            m = medians[p]
            lines.append(
                f"p{p}: overhead share {m['overhead'] / m['wall']:.0%},"
                f" worker sum / wall {m['worker_sum'] / m['wall']:.2f}"
            )
    return "\n".join(lines)


def run_bench(stack: Stack, repeat: int = 1, levels: tuple[int, ...] = (1, 3)) -> str:
    config.load_kube_config(config_file=stack.kubeconfig)
    namespace = f"bench-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    results: dict[int, list[dict[str, float]]] = {p: [] for p in levels}
    with tempfile.TemporaryDirectory(prefix="prazium-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        operator = start_operator(stack, data_dir, [namespace], Path(tmp) / "logs")
        try:
            wait_for(lambda: _heartbeat(stack, operator.pid), 30, "operator heartbeat", operator)
            for index in range(repeat):
                for p in levels:
                    results[p].append(
                        build_once(stack, namespace, f"bench-p{p}-{index}", p, operator)
                    )
        finally:
            operator.stop()
            core.delete_namespace(namespace, propagation_policy="Background")
    return report(results)


def _heartbeat(stack: Stack, pid: int) -> bool:
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        return (
            conn.execute(
                "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
            ).fetchone()
            is not None
        )


def stack_from_env() -> Stack:
    try:
        return Stack(
            kubeconfig=os.environ["PRAZIUM_TEST_KUBECONFIG"],
            database_url=os.environ["PRAZIUM_TEST_DATABASE_URL"],
            kubectl=os.environ["PRAZIUM_TEST_KUBECTL"],
        )
    except KeyError as missing:
        raise SystemExit(
            f"{missing} is not set: run through `make bench-build` (see the docstring)"
        ) from None


def test_bench_build() -> None:
    """Entry point when run through scripts/test.sh (pytest starts nothing else)."""
    started = time.monotonic()
    print("\n" + run_bench(stack_from_env(), int(os.environ.get("PRAZIUM_BENCH_REPEAT", "1"))))
    print(f"bench took {time.monotonic() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    print(run_bench(stack_from_env(), args.repeat))


if __name__ == "__main__":
    main()
