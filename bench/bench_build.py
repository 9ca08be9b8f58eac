"""Benchmark: end-to-end time of a build, orchestration overhead vs worker time, parallelism.

What it does: starts the real operator (local executor) against the real control
plane and PostgreSQL, applies two identical Projects (the answered todo app of
examples/project-answered.yaml: the template planner's tasks, a DAG with parallel
branches; the `tasks` row says how many) and builds one with parallelism 1 and the
other with parallelism 3, one after the other, ``--repeat`` times. All timings come
from the journal's timestamps (PostgreSQL ``now()`` at append), so they measure what
a client watching the event stream sees.

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

Then the same build once per executor, local (child processes) beside kubernetes
(a Job per task whose Pod runs on the stack's node), after one warm-up build each:
  start latency p50/p90   TASK_QUEUED -> TASK_STARTED (local: spawn + imports; Job:
                          Job -> Pod scheduled -> sandbox + container start + imports)
  task end to end p50/p90 TASK_QUEUED -> TASK_COMPLETED of one task (the Job path's
                          equivalent of a one-step TaskRun)
  wall                    RUN_STARTED -> final event
(skipped when PRAZIUM_NODE=0: no node in the stack).

Then the kubernetes executor under each runtime of the node, runc beside gVisor
(RuntimeClass gvisor, the default for worker and verification Pods), one operator
each, in one run: one warm-up build, then PRAZIUM_BENCH_RUNTIME_BUILDS (default 2)
builds of the six tasks at parallelism 3:
  start latency p50/p90   TASK_QUEUED -> TASK_STARTED over every task of the builds
                          (Job -> Pod -> sandbox + container start + the worker's imports)
  task end to end p50/p90 TASK_QUEUED -> TASK_COMPLETED of one task
  wall                    the 6-task run's RUN_STARTED -> final event (median of builds),
                          verification's own Pod included
and the ratio gVisor / runc of each (skipped when PRAZIUM_NODE=0).

Then the same three columns (local, Job path with Jobs created ahead, none ahead)
with a model behind each task (part `model`): the coding-agent loop (the openai
coder) does every task against the stand-in of the Chat Completions endpoint (a real
HTTP server; the only stand-in: the paid model), whose session per task is the
template one (write the task's files, then finish: 2 model requests). Every model
request is answered after PRAZIUM_BENCH_MODEL_REPLY_SECONDS (default 2 s): a chosen
figure, not a real model's. One warm-up build with the stand-in answering at once,
then the measured build (parallelism 3):
  wall                    RUN_STARTED -> final event
  QUEUED -> STARTED p50   as above
  task end to end p50/p90 TASK_QUEUED -> TASK_COMPLETED of one task
  verify                  VERIFICATION_STARTED -> VERIFICATION_COMPLETED
  model time a task       model requests x reply time / tasks
  task less its model     a task's end to end minus its requests x reply time: what
                          the executor and the loop add to the model's time (p50/p90)
  model requests          requests the stand-in answered in the measured build, beside
                          the journal's AGENT_USAGE events (one per request): the same in
                          every column, or the columns did not do the same work
and the ratios Job path / local of the wall and of the per-task p50/p90. The
`executors` part is the worst case for the Job path (tasks of 0.1-0.4 s, so a Pod's
start is most of a task); this one is what a person building with a model sees.
With PRAZIUM_NODE=0 only its local column runs.

Per-task overhead, local executor with the fork server (PRAZIUM_FORK_SERVER=true,
executor/forkserver.py: workers forked from a process that imported them once) beside
spawned workers (false: a fresh interpreter per task), one operator each, in one run:
one warm-up build, then PRAZIUM_BENCH_OVERHEAD_BUILDS (default 2) builds of the same
tasks at parallelism 1, so no two workers share the two cores and every figure is
one task's own. Per template task:
  ready            the moment the task could start: its TASK_QUEUED, or the previous
                   task's TASK_COMPLETED when it was queued while that one ran
                   (parallelism 1: the slot frees when the completion is recorded)
  start            ready -> the worker's first log line: the operator's start step
                   (queued event, status writes, base merge, request file; up to the
                   executor's "forked/started worker pid" log line) and then the fork,
                   or the spawn + interpreter + imports, and the worker's set-up
  worker non-coder the worker's duration minus its coder's (durationSeconds and
                   codeSeconds in its last log line): worktree, agent lookup, git
                   add/diff/commit, pid, events and result files
  finish           the worker's last log line -> TASK_COMPLETED in the journal: exit
                   detection, result and event ingest, the completion's writes
  overhead         start + worker non-coder + finish = TASK_QUEUED..TASK_COMPLETED
                   of the task minus the time its coder ran (goal: p50 <= 150 ms)
  queued->started  TASK_QUEUED -> TASK_STARTED as the journal has them (TASK_STARTED
                   is stamped when the operator ingests the worker's event file, so
                   this includes the operator's poll; the task start latency as
                   it was first measured, kept to compare with)
  worker CPU       the worker's own CPU seconds and those of the processes it waited
                   for (git), from getrusage at its end (cpuSeconds in its last log
                   line): a fork's start from zero (the server paid the imports once),
                   a spawned worker's include its interpreter and imports (goal: <= 0.3)
  reaped CPU       cross-check from /proc over the measured builds, per task: fork
                   server's own CPU (the forks) + its reaped children's; spawned: the
                   operator's reaped children's, which also hold the operator's own git
                   (base merges, merge to main) and the verification run: an upper bound

How to run (starts a throw-away control plane, node + PostgreSQL, like `make test`):

    PRAZIUM_TEST_DEV_DIR=/tmp/pz-bench make bench-build    # or:
    PRAZIUM_TEST_DEV_DIR=/tmp/pz-bench scripts/test.sh bench/bench_build.py -q -s

PRAZIUM_BENCH_PARTS picks parts (default all:
parallelism,overhead,executors,runtimes,model);
PRAZIUM_NODE=0 leaves the node out (and the kubernetes column with it), e.g.

    PRAZIUM_NODE=0 PRAZIUM_BENCH_PARTS=overhead scripts/test.sh bench/bench_build.py -q -s

or, against a stack you started yourself, with PRAZIUM_TEST_KUBECONFIG,
PRAZIUM_TEST_DATABASE_URL and PRAZIUM_TEST_KUBECTL set:

    python bench/bench_build.py --repeat 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "kit"), str(ROOT / "operator")]

import modelpart  # noqa: E402
import procstat  # noqa: E402
import pytest  # noqa: E402
import startprofile  # noqa: E402
import yaml  # noqa: E402
from kubernetes import client, config  # noqa: E402

from prazium_kit.paths import run_results  # noqa: E402
from tests.support.build import (  # noqa: E402
    create,
    events,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.node import job_namespace, operator_env  # noqa: E402
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
    stack: Stack,
    namespace: str,
    name: str,
    parallelism: int,
    operator: Any,
    agent: dict[str, str] | None = None,
    timeout: float = 300,
) -> dict[str, float]:
    """Build the example once (agent: the Run's spec.agent; default the template's)."""
    manifest = yaml.safe_load(EXAMPLE.read_text())
    create(namespace, "projects", "Project", name, manifest["spec"])
    wait_phase(namespace, "projects", name, {"approved"}, operator, timeout=60)
    run_name = f"{name}-run"
    spec: dict[str, Any] = {"projectRef": {"name": name}, "parallelism": parallelism}
    if agent:
        spec["agent"] = agent
    run = create(namespace, "runs", "Run", run_name, spec)
    created_at = dt.datetime.fromisoformat(run["metadata"]["creationTimestamp"])
    done = wait_run_done(namespace, run_name, operator, timeout=timeout)
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


EXECUTOR_ROWS = [
    "tasks",
    "wall",
    "start_latency_p50",
    "start_latency_p90",
    "ready_first_p50",
    "ready_first_dependents_p50",
    "end_to_end_p50",
    "end_to_end_p90",
    "verify",
]
EXECUTOR_LABELS = {
    "start_latency_p50": "QUEUED -> STARTED p50",
    "start_latency_p90": "QUEUED -> STARTED p90",
    "ready_first_p50": "ready -> worker line p50",
    "ready_first_dependents_p50": "  tasks with deps p50",
}
# The Job path's columns: Jobs created ahead (the default) and without.
KUBERNETES_MODES = {"kubernetes": "true", "k8s, none ahead": "false"}


def per_task_end_to_end(journal: list[dict[str, Any]]) -> list[float]:
    return list(end_to_end_by_task(journal).values())


def end_to_end_by_task(journal: list[dict[str, Any]]) -> dict[str, float]:
    """Per task id: TASK_QUEUED -> TASK_COMPLETED (s)."""
    first: dict[tuple[str, str | None], dt.datetime] = {}
    for event in journal:
        first.setdefault((event["type"], event["task"]), event["at"])
    return {
        t: _seconds(first[("TASK_QUEUED", t)], first[("TASK_COMPLETED", t)])
        for t in sorted({e["task"] for e in journal if e["task"]})
    }


def _ready_to_first_line(
    journal: list[dict[str, Any]], results: Path, dependent_ids: set[str]
) -> tuple[list[float], list[float]]:
    """(every task, tasks with dependencies): TASK_QUEUED -> the worker's first line."""
    first: dict[tuple[str, str | None], dt.datetime] = {}
    for event in journal:
        first.setdefault((event["type"], event["task"]), event["at"])
    every, dependents = [], []
    for task in sorted({e["task"] for e in journal if e["task"]}):
        line = startprofile.kept_log(results / f"{task}-1.json").get("first")
        if line is None:
            continue
        value = _seconds(first[("TASK_QUEUED", task)], line)
        every.append(value)
        if task in dependent_ids:
            dependents.append(value)
    return every, dependents


def _run_tasks(namespace: str, run: str) -> tuple[list[dict[str, Any]], set[str]]:
    """The namespace's Task objects, and the plan ids of the run's tasks with dependencies."""
    tasks = client.CustomObjectsApi().list_namespaced_custom_object(
        "prazium.io", "v1alpha1", namespace, "tasks"
    )["items"]
    mine = [t["spec"] for t in tasks if t["spec"]["runRef"]["name"] == run]
    return tasks, {t["definition"]["id"] for t in mine if t["definition"].get("dependencies")}


def executor_build(
    stack: Stack, executor: str, parallelism: int = 3, prestart: str = "true"
) -> dict[str, Any]:
    """One warm-up build, then the measured one, with the operator on this executor;
    on the Job path also the profile of each task's start (startprofile.py)."""
    config.load_kube_config(config_file=stack.kubeconfig)
    namespace = f"bench-{executor[:4]}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    with tempfile.TemporaryDirectory(prefix="prazium-bench-") as tmp, ExitStack() as cleanup:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        jobs_ns = cleanup.enter_context(job_namespace(data_dir)) if executor != "local" else ""
        env = (
            operator_env(
                jobs_ns,
                PRAZIUM_PRESTART=prestart,
                PRAZIUM_LOG_FORMAT="json",
                **startprofile.runtime_env(),
            )
            if jobs_ns
            else {}
        )
        logs = Path(tmp) / "logs"
        operator = start_operator(stack, data_dir, [namespace], logs, **env)
        try:
            wait_for(lambda: _heartbeat(stack, operator.pid), 30, "operator heartbeat", operator)
            build_once(stack, namespace, f"warm-{executor[:4]}", parallelism, operator)
            name = f"measured-{executor[:4]}"
            run = f"{name}-run"
            with ExitStack() as watching:
                pods = watching.enter_context(startprofile.PodWatch(jobs_ns)) if jobs_ns else None
                measured: dict[str, Any] = dict(
                    build_once(stack, namespace, name, parallelism, operator)
                )
            journal = events(stack.database_url, namespace, run)
            ends = per_task_end_to_end(journal)
            measured["end_to_end_p50"] = _pct(ends, 0.5)
            measured["end_to_end_p90"] = _pct(ends, 0.9)
            results = run_results(data_dir, namespace, run)
            tasks, dependent_ids = _run_tasks(namespace, run)
            every, dependents = _ready_to_first_line(journal, results, dependent_ids)
            measured["ready_first_p50"] = _pct(every, 0.5)
            measured["ready_first_dependents_p50"] = _pct(dependents, 0.5)
            if pods is not None:
                names = {
                    t["metadata"]["name"]: t["spec"]["definition"]["id"]
                    for t in tasks
                    if t["spec"]["runRef"]["name"] == run
                }
                measured["profile"] = startprofile.profile(
                    journal,
                    results,
                    logs / "operator.log",
                    run,
                    pods.pods,
                    {task_id: name for name, task_id in names.items()},
                    dependent_ids,
                )
            return measured
        finally:
            operator.stop()
            core.delete_namespace(namespace, propagation_policy="Background")


RUNTIMES = {"runc": "", "gvisor": "gvisor"}


def runtime_builds(stack: Stack, runtime_class: str, builds: int) -> dict[str, float]:
    """The kubernetes executor with worker Pods under one runtime: a warm-up build,
    then builds measured builds (parallelism 3); latencies over all their tasks."""
    config.load_kube_config(config_file=stack.kubeconfig)
    namespace = f"bench-rt-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    with tempfile.TemporaryDirectory(prefix="prazium-bench-") as tmp, ExitStack() as cleanup:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        env = operator_env(
            cleanup.enter_context(job_namespace(data_dir)),
            PRAZIUM_WORKER_RUNTIME_CLASS=runtime_class,
        )
        operator = start_operator(stack, data_dir, [namespace], Path(tmp) / "logs", **env)
        try:
            wait_for(lambda: _heartbeat(stack, operator.pid), 30, "operator heartbeat", operator)
            build_once(stack, namespace, "warm", 3, operator)
            walls: list[float] = []
            latencies: list[float] = []
            ends: list[float] = []
            ready_first: list[float] = []
            ready_first_dependents: list[float] = []
            for index in range(builds):
                name = f"rt-{index}"
                walls.append(build_once(stack, namespace, name, 3, operator)["wall"])
                journal = events(stack.database_url, namespace, f"{name}-run")
                _, dependent_ids = _run_tasks(namespace, f"{name}-run")
                every, dependents = _ready_to_first_line(
                    journal, run_results(data_dir, namespace, f"{name}-run"), dependent_ids
                )
                ready_first += every
                ready_first_dependents += dependents
                first: dict[tuple[str, str | None], dt.datetime] = {}
                for event in journal:
                    first.setdefault((event["type"], event["task"]), event["at"])
                tasks = sorted({e["task"] for e in journal if e["task"]})
                latencies += [
                    _seconds(first[("TASK_QUEUED", t)], first[("TASK_STARTED", t)]) for t in tasks
                ]
                ends += per_task_end_to_end(journal)
            return {
                "tasks": float(len(latencies)),
                "wall": statistics.median(walls),
                "start_latency_p50": _pct(latencies, 0.5),
                "start_latency_p90": _pct(latencies, 0.9),
                "ready_first_p50": _pct(ready_first, 0.5),
                "ready_first_dependents_p50": _pct(ready_first_dependents, 0.5),
                "end_to_end_p50": _pct(ends, 0.5),
                "end_to_end_p90": _pct(ends, 0.9),
            }
        finally:
            operator.stop()
            core.delete_namespace(namespace, propagation_policy="Background")


def runtime_report(results: dict[str, dict[str, float]]) -> str:
    lines = [executor_report(results, "metric (s), parallelism 3")]
    if "runc" in results and "gvisor" in results:
        runc, gvisor = results["runc"], results["gvisor"]
        lines.append("")
        for key in (k for k in EXECUTOR_ROWS[1:] if k in runc and k in gvisor):
            ratio = gvisor[key] / runc[key] if runc[key] else float("nan")
            lines.append(f"gvisor / runc {key:<22}{ratio:>8.2f}x")
    return "\n".join(lines)


def run_runtimes(stack: Stack) -> str:
    builds = int(os.environ.get("PRAZIUM_BENCH_RUNTIME_BUILDS", "2"))
    return runtime_report(
        {name: runtime_builds(stack, runtime, builds) for name, runtime in RUNTIMES.items()}
    )


def executor_report(
    results: dict[str, dict[str, Any]], title: str = "metric (s), parallelism 3"
) -> str:
    names = list(results)
    lines = [f"{title:<28}" + "".join(f"{n:>17}" for n in names)]
    for key in EXECUTOR_ROWS:
        label = EXECUTOR_LABELS.get(key, key)
        lines.append(
            f"{label:<28}" + "".join(f"{results[n].get(key, math.nan):>17.3f}" for n in names)
        )
    local, job = results.get("local"), results.get("kubernetes")
    if local and job:
        ratio = job["wall"] / local["wall"]
        latency = job["ready_first_dependents_p50"]
        lines.append(f"\ngoals (RUNTIME={startprofile.runtime_name()}):")
        lines.append(
            f"  Job path start latency p50, a task whose dependencies just merged (ready ->"
            f" worker's first line): {latency:.3f} s  goal <= 0.5  "
            f"{'met' if latency <= 0.5 else 'NOT met'}"
        )
        lines.append(
            f"  6-task wall, Job path / local: {job['wall']:.2f} / {local['wall']:.2f} s ="
            f" {ratio:.2f}x  goal <= 1.5x  {'met' if ratio <= 1.5 else 'NOT met'}"
        )
    for name in names:
        rows = results[name].get("profile")
        if rows:
            lines.append("")
            lines.append(profile_report(name, rows))
    return "\n".join(lines)


PROFILE_STEPS = [
    ("ready_go", "ready -> operator's go (Job created, or go signal)"),
    ("go_added", "  Job created -> Pod created (Job controller)"),
    ("added_bound", "  Pod created -> bound (scheduler)"),
    ("bound_process", "  bound -> process started (kubelet, runtime)"),
    ("imports", "  interpreter + imports (in the Pod)"),
    ("imported_first", "  imports done -> worker's first line"),
    ("go_first", "go -> worker's first line"),
    ("ready_first", "ready -> worker's first line"),
    ("first_started", "worker's first line -> TASK_STARTED (poll)"),
    ("waited", "time the Pod waited for its go signal"),
]


def profile_report(name: str, rows: list[dict[str, Any]]) -> str:
    """Medians of a Job start's steps: Jobs created ahead (tasks with dependencies) and
    Jobs created when the task was ready; a step before the task was ready is negative."""
    groups = {
        "created ahead": [r for r in rows if r["ahead"]],
        "created when ready": [r for r in rows if not r["ahead"]],
    }
    header = f"{'a Job start, ' + name + ' (median s)':<54}"
    lines = [header + "".join(f"{g + f' ({len(v)})':>24}" for g, v in groups.items())]
    for key, label in PROFILE_STEPS:
        cells = ""
        for group in groups.values():
            values = [r[key] for r in group if r[key] is not None]
            cells += f"{statistics.median(values):>24.3f}" if values else f"{'-':>24}"
        lines.append(f"{label:<54}{cells}")
    return "\n".join(lines)


# -- local vs the Job path with a model behind each task -------------------------

MODEL_REPLY_SECONDS = 2.0
# Columns: (executor, Jobs created ahead of their work on the Job path).
MODEL_MODES = {
    "local": ("local", ""),
    "kubernetes": ("kubernetes", "true"),
    "k8s, none ahead": ("kubernetes", "false"),
}
MODEL_ROWS = [
    "tasks",
    "wall",
    "start_latency_p50",
    "end_to_end_p50",
    "end_to_end_p90",
    "model_seconds",
    "rest_p50",
    "rest_p90",
    "verify",
    "model_requests",
    "usage_events",
]
MODEL_LABELS = {
    "start_latency_p50": "QUEUED -> STARTED p50",
    "end_to_end_p50": "task end to end p50",
    "end_to_end_p90": "task end to end p90",
    "model_seconds": "model time a task",
    "rest_p50": "  task less its model p50",
    "rest_p90": "  task less its model p90",
    "model_requests": "model requests",
    "usage_events": "AGENT_USAGE events",
}


def model_reply_seconds() -> float:
    return float(os.environ.get("PRAZIUM_BENCH_MODEL_REPLY_SECONDS", str(MODEL_REPLY_SECONDS)))


def model_build(
    stack: Stack, executor: str, prestart: str, reply_seconds: float, parallelism: int = 3
) -> dict[str, float]:
    """The example built by the coding-agent loop (the openai coder) against the stand-in
    of the Chat Completions endpoint: one warm-up build with the stand-in answering at
    once, then the measured one with every model request answered after reply_seconds."""
    config.load_kube_config(config_file=stack.kubeconfig)
    namespace = f"bench-mdl-{executor[:4]}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    with tempfile.TemporaryDirectory(prefix="prazium-bench-") as tmp, ExitStack() as cleanup:
        standin = cleanup.enter_context(modelpart.standin_for(executor))
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        jobs_ns = (
            cleanup.enter_context(job_namespace(data_dir)) if executor == "kubernetes" else None
        )
        agent, env = modelpart.wire(executor, namespace, jobs_ns, standin)
        if jobs_ns is not None:
            env = operator_env(jobs_ns, PRAZIUM_PRESTART=prestart, **env)
        operator = start_operator(stack, data_dir, [namespace], Path(tmp) / "logs", **env)
        try:
            wait_for(lambda: _heartbeat(stack, operator.pid), 60, "operator heartbeat", operator)
            build_once(stack, namespace, "warm-mdl", parallelism, operator, agent)
            standin.reply_seconds = reply_seconds
            before, views_before = len(standin.requests), len(standin.session_views)
            name = "measured-mdl"
            timeout = 300 + 20 * reply_seconds
            measured = dict(
                build_once(stack, namespace, name, parallelism, operator, agent, timeout)
            )
            if standin.session_failures:
                raise RuntimeError(f"the stand-in's checks failed: {standin.session_failures}")
            journal = events(stack.database_url, namespace, f"{name}-run")
            ends = end_to_end_by_task(journal)
            asked: dict[str, int] = {}
            for view in standin.session_views[views_before:]:
                asked[view.task_id] = asked.get(view.task_id, 0) + 1
            # A task's time outside its model replies: its share of the executor's cost.
            rest = [ends[task] - asked.get(task, 0) * reply_seconds for task in ends]
            requests = len(standin.requests) - before
            measured["end_to_end_p50"] = _pct(list(ends.values()), 0.5)
            measured["end_to_end_p90"] = _pct(list(ends.values()), 0.9)
            measured["rest_p50"] = _pct(rest, 0.5)
            measured["rest_p90"] = _pct(rest, 0.9)
            measured["model_requests"] = float(requests)
            measured["model_seconds"] = requests * reply_seconds / max(1, len(ends))
            measured["usage_events"] = float(sum(e["type"] == "AGENT_USAGE" for e in journal))
            return measured
        finally:
            operator.stop()
            core.delete_namespace(namespace, propagation_policy="Background")


def model_report(results: dict[str, dict[str, float]], reply_seconds: float) -> str:
    names = list(results)
    title = f"metric (s), reply {reply_seconds:g} s"
    lines = [f"{title:<28}" + "".join(f"{n:>17}" for n in names)]
    for key in MODEL_ROWS:
        label = MODEL_LABELS.get(key, key)
        lines.append(
            f"{label:<28}" + "".join(f"{results[n].get(key, math.nan):>17.3f}" for n in names)
        )
    local = results.get("local")
    if local and len(names) > 1:
        lines.append("\nJob path / local:")
        for name in names[1:]:
            job = results[name]
            cells = ", ".join(
                f"{label} {job[key] / local[key]:.2f}x"
                for key, label in (
                    ("wall", "wall"),
                    ("end_to_end_p50", "task end to end p50"),
                    ("end_to_end_p90", "p90"),
                    ("rest_p50", "task less its model p50"),
                )
            )
            lines.append(f"  {name:<17}{cells}")
    if len(names) > 1:
        counts = {results[n]["model_requests"] for n in names}
        lines.append(
            "model requests the same in every column: "
            + ("yes" if len(counts) == 1 else f"NO ({sorted(counts)})")
        )
    return "\n".join(lines)


def run_model(stack: Stack, with_node: bool) -> str:
    """The report; a column that fails is named after the others' figures, then the
    bench fails (the figures of the columns that ran are kept in its output)."""
    reply = model_reply_seconds()
    columns = MODEL_MODES if with_node else {"local": MODEL_MODES["local"]}
    results: dict[str, dict[str, float]] = {}
    failed: dict[str, str] = {}
    for column, (executor, prestart) in columns.items():
        try:
            results[column] = model_build(stack, executor, prestart, reply)
        except Exception as exc:  # the next column still runs
            failed[column] = f"{type(exc).__name__}: {exc}"
    text = model_report(results, reply) if results else ""
    if failed:
        print(text)
        raise RuntimeError(f"model part, columns that failed: {failed}")
    return text


# -- per-task overhead: fork server vs spawn ------------------------------------

OVERHEAD_GOAL_SECONDS = 0.150
CPU_GOAL_SECONDS = 0.3
FORK_SERVER_MODES = {"fork server": "true", "spawn": "false"}


def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def worker_figures(result_file: Path) -> dict[str, Any] | None:
    """From the attempt's kept log (JSON lines, millisecond timestamps; the result
    file's startedAt/completedAt are to the second): when the worker's first line was
    written, and its last line's time, durationSeconds, codeSeconds and cpuSeconds."""
    try:
        log_text = result_file.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    started: dt.datetime | None = None
    last: dict[str, Any] | None = None
    for line in log_text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or "timestamp" not in record:
            continue
        if started is None and "started (coder" in str(record.get("message")):
            started = _when(record["timestamp"])
        if "codeSeconds" in record:
            last = record
    if started is None or last is None:
        return None
    return {
        "started": started,
        "completed": _when(last["timestamp"]),
        "duration": float(last["durationSeconds"]),
        "codeSeconds": float(last["codeSeconds"]),
        "cpuSeconds": float(last["cpuSeconds"]),
    }


def launches(operator_log: Path, run: str) -> dict[str, dt.datetime]:
    """Per task of run: when the local executor logged its worker forked or spawned."""
    found: dict[str, dt.datetime] = {}
    for line in operator_log.read_text(encoding="utf-8", errors="replace").splitlines():
        if "worker pid" not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))
        if record.get("run") == run and message.startswith(("forked worker", "started worker")):
            found.setdefault(str(record.get("task")), _when(record["timestamp"]))
    return found


def task_overheads(
    journal: list[dict[str, Any]], results_dir: Path, launched: dict[str, dt.datetime]
) -> list[dict[str, float]]:
    """Per task of one parallelism-1 run: the figures the docstring defines."""
    first: dict[tuple[str, str | None], dt.datetime] = {}
    for event in journal:
        first.setdefault((event["type"], event["task"]), event["at"])
    tasks = sorted({e["task"] for e in journal if e["task"]})
    completions = sorted(first[("TASK_COMPLETED", t)] for t in tasks)
    rows = []
    for task in tasks:
        worker = worker_figures(results_dir / f"{task}-1.json")
        if worker is None:
            raise RuntimeError(f"no result or worker figures for {task} in {results_dir}")
        queued = first[("TASK_QUEUED", task)]
        completed = first[("TASK_COMPLETED", task)]
        earlier = [at for at in completions if at <= worker["started"]]
        ready = max([queued, *earlier])
        start = _seconds(ready, worker["started"])
        at = launched.get(task, worker["started"])
        non_coder = worker["duration"] - worker["codeSeconds"]
        finish = _seconds(worker["completed"], completed)
        rows.append(
            {
                "start": start,
                "operator_start": _seconds(ready, at),
                "worker_init": _seconds(at, worker["started"]),
                "non_coder": non_coder,
                "finish": finish,
                "overhead": start + non_coder + finish,
                "code": worker["codeSeconds"],
                "queued_started": _seconds(queued, first[("TASK_STARTED", task)]),
                "cpu": worker["cpuSeconds"],
            }
        )
    return rows


def reaped_cpu(operator_pid: int, fork_server: int | None) -> float:
    """The workers' CPU seconds so far as /proc has them (see the docstring)."""
    if fork_server is not None:
        own, children = procstat.cpu_times(fork_server)
        return own + children
    return procstat.cpu_times(operator_pid)[1]


def overhead_mode(stack: Stack, mode: str, builds: int) -> dict[str, Any]:
    """One operator with the fork server on or off: a warm-up build, then builds."""
    config.load_kube_config(config_file=stack.kubeconfig)
    namespace = f"bench-ovh-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    with tempfile.TemporaryDirectory(prefix="prazium-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        logs = Path(tmp) / "logs"
        operator = start_operator(
            stack,
            data_dir,
            [namespace],
            logs,
            PRAZIUM_FORK_SERVER=FORK_SERVER_MODES[mode],
            PRAZIUM_LOG_FORMAT="json",
        )
        try:
            wait_for(lambda: _heartbeat(stack, operator.pid), 60, "operator heartbeat", operator)
            if FORK_SERVER_MODES[mode] == "true":
                wait_for(
                    lambda: "fork server started" in (logs / "operator.log").read_text(),
                    120,
                    "fork server ready",
                    operator,
                )
            build_once(stack, namespace, "warm", 1, operator)
            servers = procstat.fork_servers(operator.pid) if mode == "fork server" else []
            server = servers[0] if servers else None
            cpu_before = reaped_cpu(operator.pid, server)
            rows: list[dict[str, float]] = []
            for index in range(builds):
                name = f"ovh-{index}"
                build_once(stack, namespace, name, 1, operator)
                journal = events(stack.database_url, namespace, f"{name}-run")
                rows += task_overheads(
                    journal,
                    run_results(data_dir, namespace, f"{name}-run"),
                    launches(logs / "operator.log", f"{name}-run"),
                )
            reaped = (reaped_cpu(operator.pid, server) - cpu_before) / max(1, len(rows))
            return {"rows": rows, "reaped_cpu": reaped, "forked": server is not None}
        finally:
            operator.stop()
            core.delete_namespace(namespace, propagation_policy="Background")


OVERHEAD_ROWS = [
    ("overhead", "overhead (s)"),
    ("start", "  start: ready -> worker running"),
    ("operator_start", "    operator's start step"),
    ("worker_init", "    fork/spawn + worker init"),
    ("non_coder", "  worker non-coder time"),
    ("finish", "  finish: worker done -> COMPLETED"),
    ("code", "coder time (not overhead)"),
    ("queued_started", "journal QUEUED -> STARTED"),
    ("cpu", "worker CPU-s (getrusage)"),
]


def overhead_report(results: dict[str, dict[str, Any]]) -> str:
    modes = list(results)
    header = f"{'per template task, parallelism 1':<36}"
    lines = [header + "".join(f"{m + ' p50':>14}{m + ' p90':>14}" for m in modes)]
    for key, label in OVERHEAD_ROWS:
        cells = ""
        for mode in modes:
            values = [row[key] for row in results[mode]["rows"]]
            cells += f"{_pct(values, 0.5):>14.3f}{_pct(values, 0.9):>14.3f}"
        lines.append(f"{label:<36}{cells}")
    lines.append(
        f"{'reaped CPU-s per task (/proc)':<36}"
        + "".join(f"{results[m]['reaped_cpu']:>14.3f}{'':>14}" for m in modes)
    )
    lines.append(
        f"{'tasks measured':<36}" + "".join(f"{len(results[m]['rows']):>14}{'':>14}" for m in modes)
    )
    lines.append("\ngoals, local executor, per template task:")
    for mode in modes:
        rows = results[mode]["rows"]
        overhead = _pct([r["overhead"] for r in rows], 0.5)
        cpu = _pct([r["cpu"] for r in rows], 0.5)
        lines.append(
            f"  {mode:<12} overhead p50 {overhead * 1000:6.0f} ms  goal <= "
            f"{OVERHEAD_GOAL_SECONDS * 1000:.0f} ms  "
            f"{'met' if overhead <= OVERHEAD_GOAL_SECONDS else 'NOT met'};"
            f"  worker CPU p50 {cpu:.3f} s  goal <= {CPU_GOAL_SECONDS}  "
            f"{'met' if cpu <= CPU_GOAL_SECONDS else 'NOT met'}"
        )
    if not results.get("fork server", {}).get("forked", True):
        lines.append("  (no fork server process was found: its column is not forked workers)")
    return "\n".join(lines)


def run_overhead(stack: Stack) -> str:
    builds = int(os.environ.get("PRAZIUM_BENCH_OVERHEAD_BUILDS", "2"))
    return overhead_report({mode: overhead_mode(stack, mode, builds) for mode in FORK_SERVER_MODES})


def _loads() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


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


def parts() -> list[str]:
    chosen = os.environ.get("PRAZIUM_BENCH_PARTS", "parallelism,overhead,executors,runtimes,model")
    wanted = [part.strip() for part in chosen.split(",") if part.strip()]
    if not with_node():
        for part in ("executors", "runtimes"):
            if part in wanted:
                wanted.remove(part)
                print(f"\n(PRAZIUM_NODE=0: no node, so no {part} comparison)")
        if "model" in wanted:
            print("\n(PRAZIUM_NODE=0: no node, so the model part has its local column only)")
    return wanted


def with_node() -> bool:
    return os.environ.get("PRAZIUM_NODE", "1") != "0"


@pytest.mark.timeout(3600)
def test_bench_build() -> None:
    """Entry point when run through scripts/test.sh (pytest starts nothing else)."""
    started = time.monotonic()
    stack = stack_from_env()
    wanted = parts()
    workers = (
        "forked"
        if os.environ.get("PRAZIUM_TEST_FORK_SERVER", "false") == "true"
        else "spawned (PRAZIUM_TEST_FORK_SERVER=true forks them)"
    )
    if "parallelism" in wanted:
        print(f"\nparallelism 1 vs 3, workers {workers}:")
        print(run_bench(stack, int(os.environ.get("PRAZIUM_BENCH_REPEAT", "1"))))
    if "overhead" in wanted:
        print("\nper-task overhead, local executor: fork server vs spawned workers:")
        print(run_overhead(stack))
    if "executors" in wanted:
        print(
            f"\nlocal executor (workers {workers}) vs a Job per task on the node (warm),"
            f" RUNTIME={startprofile.runtime_name()}, load {os.getloadavg()[0]:.1f}:"
        )
        side_by_side = {"local": executor_build(stack, "local")}
        for column, prestart in KUBERNETES_MODES.items():
            side_by_side[column] = executor_build(stack, "kubernetes", prestart=prestart)
        print(executor_report(side_by_side))
        print(f"load at the end: {os.getloadavg()[0]:.1f}")
    if "runtimes" in wanted:
        print("\nkubernetes executor, worker and verification Pods under runc vs gVisor (warm):")
        print(run_runtimes(stack))
    if "model" in wanted:
        pods = f" vs a Job per task on the node (warm, under {startprofile.runtime_name()})"
        print(
            f"\nlocal executor (workers {workers}){pods if with_node() else ''}, every task"
            f" done by the coding-agent loop against a model stand-in answering each request"
            f" after {model_reply_seconds():g} s; load average {_loads()}:"
        )
        print(run_model(stack, with_node()))
        print(f"load average at the end: {_loads()}")
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
