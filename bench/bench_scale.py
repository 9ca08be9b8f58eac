"""Benchmark: many Runs at once on one operator, whether it carries hundreds of builds
without slowing each one down or losing anything - on the Job path (every task a Job
whose Pod runs on the stack's node) beside the local executor, side by side.

For each N (default 1, 25, 100; BENCH_SCALE_N=500 or any list for more) and each
executor (BENCH_SCALE_EXECUTORS, default kubernetes,local; kubernetes needs the node)
it starts a fresh operator with BENCH_SCALE_WORKERS worker slots (default 4; the Job
path also lets as many Pods wait for their go signal, PRAZIUM_MAX_PRESTARTED), approves
N Projects (the answered todo app of examples/project-answered.yaml: the template
planner's tasks, a DAG with parallel branches; the template coder is the fast,
offline coder; with BENCH_SCALE_MODEL_SECONDS the coding-agent loop does every task
against a stand-in model whose every reply takes that long, bench/modelpart.py, so
a task's time is mostly a model's as in real use) and creates their N Runs at once,
then reports:

  gap p50/p99         task-to-next-task: a task's dependencies' last TASK_COMPLETED ->
                      its TASK_QUEUED (the operator noticing and queueing it), and ->
                      its TASK_STARTED (plus the wait for a worker slot and the start)
  handoff p50/p99     a freed worker slot -> the next task started in it: each
                      TASK_COMPLETED (of any run) while some task was queued and
                      waiting, paired in order with the next TASK_STARTED: the
                      operator's whole reaction (notice, queue, offer the slot, merge the
                      base, start the worker - a fork, or a Pod's go signal or a new Pod -
                      its TASK_STARTED read back); the queued gap is 0 by construction
                      (a task's dependents are queued in its completion's journal write)
  runs/min            N / (first Run created -> last final journal event), and tasks
  Pods/s              Pods created (tasks and verifications) per second of makespan;
                      the most alive at once (Pending or Running; bounded by the
                      worker slots plus the Pods allowed to wait) and whether any
                      waited for the node (Pending past the scheduler: PodScheduled
                      False, e.g. maxPods) instead of in the operator's queue
  RSS                 peak VmRSS of the operator, the kubelet and containerd (sampled)
  operator CPU        its own CPU seconds, and its workers' (reaped children) per task
                      (local only: Pods' CPU is the node's)
  machine CPU/task    the whole machine's busy CPU seconds (/proc/stat) over the runs
                      per task done: the control plane, the node's daemons, the Pods
                      and the operator together; with the share of the cores busy, it
                      tells a path bound by CPU (near 1) from one bound by waiting, and
                      cores / CPU per task is the most tasks a minute the machine could
                      carry at that cost; split into the operator (with its workers),
                      the control plane (etcd, apiserver, controller manager,
                      scheduler), the node's daemons, the Pods (the kubelet's cgroup,
                      cgroup v1) and the rest (PostgreSQL, the bench)
  apiserver req/run   apiserver_request_total (every verb and resource, from the
                      apiserver's /metrics) during the N runs, minus the bench's own
                      requests, divided by N; and the 12 most made, by verb and
                      resource, to tell which grow with N
  etcd per run        the growth of etcd's database during the runs
                      (etcd_mvcc_db_total_size_in_bytes: every revision written, until
                      the apiserver compacts them), and what stays after the runs end:
                      etcd's size in use after a compaction at the last revision
                      (etcd_mvcc_db_total_size_in_use_in_bytes), before - after, per run
  left over           Jobs and Pods of the runs still in the cluster once every run
                      ended (they are deleted as each task's result is read and when
                      its run ends; ttlSecondsAfterFinished is only a backstop), and
                      the Kubernetes Events the Pods left (they expire after an hour)
  lost                every Run succeeded, and every task's TASK_QUEUED, TASK_STARTED
                      and TASK_COMPLETED, and the run's final event, are in the journal
                      exactly once

Goals: the Job path at N=100 loses or doubles nothing, reaches at least 70% of the
local executor's tasks per minute at the same N and worker slots, and leaves at most
500 KB of etcd per run once its runs ended; N=500 on the Job path completes with the
operator's peak RSS at most 400 MB. Timings come from the journal (PostgreSQL now() at
append). The bench waits on the journal, not by polling the apiserver, so the apiserver
count is the operator's (and the Pod watch's one request).

    make bench-scale                      # N = 1, 25, 100, Job path beside local
    make bench-scale N=500                # or any list, e.g. N=1,10
    BENCH_SCALE_EXECUTORS=kubernetes make bench-scale N=500
    BENCH_SCALE_N=500 BENCH_SCALE_CAP_SECONDS=300 make bench-scale  # carry 500 runs 5 min
    BENCH_SCALE_MODEL_SECONDS=2 make bench-scale N=25  # tasks waiting on a model
    RUNTIME=gvisor make bench-scale       # worker Pods in the gvisor RuntimeClass
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import modelpart
import procstat
import psycopg
import pytest
import startprofile
import yaml
from kubernetes import client, config

from tests.support.build import create, wait_phase
from tests.support.node import job_namespace, operator_env
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for

ROOT = Path(__file__).resolve().parents[1]

EXAMPLE = ROOT / "examples" / "project-answered.yaml"
GROUP, VERSION = "prazium.io", "v1alpha1"
FINAL = ("RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED")
MAX_WORKERS = int(os.environ.get("BENCH_SCALE_WORKERS", "4"))
EXECUTORS = [
    e.strip() for e in os.environ.get("BENCH_SCALE_EXECUTORS", "kubernetes,local").split(",") if e
]
# How long a run may take at most, per run of the level (Pods start slower than forks).
PER_RUN_SECONDS = {"local": 30, "kubernetes": 120}
# Each model request answered after this many seconds by the stand-in of the Chat
# Completions endpoint, the openai coder doing every task (0: the template coder).
MODEL_SECONDS = float(os.environ.get("BENCH_SCALE_MODEL_SECONDS", "0"))
# Stop each level after this many seconds of runs (0: wait until all N finished), to
# measure the operator carrying N runs (RSS, CPU) without waiting for all their tasks.
CAP_SECONDS = float(os.environ.get("BENCH_SCALE_CAP_SECONDS", "0"))


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def apiserver_requests() -> Counter[str]:
    """apiserver_request_total by "VERB resource[/subresource]", summed over codes."""
    api = client.ApiClient()
    method, url, headers, body, _ = api.param_serialize(
        "GET", "/metrics", auth_settings=["BearerToken"]
    )
    response = api.call_api(method, url, header_params=headers, body=body)
    response.read()
    by_kind: Counter[str] = Counter()
    for line in response.data.decode().splitlines():
        if line.startswith("apiserver_request_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
            kind = labels.get("resource", "") or "-"
            if labels.get("subresource"):
                kind += "/" + labels["subresource"]
            by_kind[f"{labels.get('verb', '?')} {kind}"] += float(line.rsplit(" ", 1)[1])
    return by_kind


def _etcd(path: str, body: dict[str, Any] | None = None) -> str | None:
    port = os.environ.get("PRAZIUM_ETCD_PORT")
    if not port:
        return None
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(response.read().decode())


def etcd_metric(name: str) -> float | None:
    text = _etcd("/metrics")
    for line in (text or "").splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


def etcd_db_bytes() -> float | None:
    return etcd_metric("etcd_mvcc_db_total_size_in_bytes")


def etcd_in_use_after_compaction() -> float | None:
    """etcd's size in use once every revision but the last is compacted away (what
    the stored objects themselves take; the apiserver compacts every 5 minutes)."""
    header = _etcd("/v3/kv/range", {"key": "AA==", "limit": 1})  # key "\0"
    if header is None:
        return None
    revision = int(json.loads(header)["header"]["revision"])
    _etcd("/v3/kv/compaction", {"revision": revision, "physical": True})
    _etcd("/v3/maintenance/defragment", {})
    return etcd_metric("etcd_mvcc_db_total_size_in_use_in_bytes")


def _dev_dir() -> Path:
    return Path(os.environ.get("PRAZIUM_DEV_DIR", ROOT / ".dev" / "test"))


def _pid_files(folder: Path, names: tuple[str, ...]) -> dict[str, int]:
    """name -> pid, from the stack's pid files (folder/<name>.pid) that are there."""
    found = {}
    for name in names:
        try:
            found[name] = int((folder / f"{name}.pid").read_text().strip())
        except (OSError, ValueError):
            continue
    return found


def node_pids() -> dict[str, int]:
    """The stack's kubelet and containerd (their pid files under the dev dir)."""
    return _pid_files(_dev_dir() / "node", ("kubelet", "containerd"))


def cpu_split(operator: int) -> procstat.CpuSplit:
    """The operator (with its workers), the control plane, the node's daemons (with the
    CNI plugins and mounts they ran) and its Pods (the kubelet's cgroup root), each
    apart; the rest is PostgreSQL, the bench itself, the runtime's shims and the
    processes they run outside a Pod's cgroup, and whatever else ran."""
    dev = _dev_dir()
    cgroups = {}
    try:
        kubelet = yaml.safe_load((dev / "node" / "kubelet.yaml").read_text())
        cgroups["pods"] = str(kubelet["cgroupRoot"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        pass  # no node: no Pods
    return procstat.CpuSplit(
        {
            "operator": [operator, *procstat.fork_servers(operator)],
            "control_plane": list(
                _pid_files(
                    dev / "cluster", ("etcd", "apiserver", "controller-manager", "scheduler")
                ).values()
            ),
            "node_daemons": list(
                _pid_files(
                    dev / "node", ("kubelet", "containerd", "kube-proxy", "kube-router")
                ).values()
            ),
        },
        cgroups,
        # Reaped children: the operator's workers; the node's CNI plugins and mounts.
        with_children=frozenset({"operator", "node_daemons"}),
    )


class ProcessSampler:
    """Peak RSS of some processes, and CPU seconds of the first (and its reaped
    children), from /proc."""

    def __init__(self, pid: int, **others: int) -> None:
        self.pid = pid
        self.pids = {"operator": pid, **others}
        self.peak = dict.fromkeys(self.pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def peak_rss(self) -> int:
        return self.peak["operator"]

    def cpu(self) -> tuple[float, float]:
        """(the process's own CPU-s, its reaped workers' CPU-s): spawned workers are the
        operator's children, forked ones the fork server's (executor/forkserver.py)."""
        own, children = procstat.cpu_times(self.pid)
        for pid in procstat.fork_servers(self.pid):
            children += procstat.cpu_times(pid)[1]
        return own, children

    @staticmethod
    def _rss(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _sample(self) -> None:
        for name, pid in self.pids.items():
            self.peak[name] = max(self.peak[name], self._rss(pid))

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            self._sample()

    def __enter__(self) -> ProcessSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def journal_of(dsn: str, namespace: str) -> dict[str, list[tuple[str | None, str, dt.datetime]]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT run, task, event_type, created_at FROM events WHERE namespace = %s ORDER BY id",
            (namespace,),
        ).fetchall()
    by_run: dict[str, list[tuple[str | None, str, dt.datetime]]] = {}
    for run, task, kind, at in rows:
        by_run.setdefault(run, []).append((task, kind, at))
    return by_run


def finished_runs(dsn: str, namespace: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT run) FROM events WHERE namespace = %s AND event_type = ANY(%s)",
            (namespace, list(FINAL)),
        ).fetchone()
    return int(row[0]) if row else 0


def gaps(
    journal: list[tuple[str | None, str, dt.datetime]], plan: list[dict[str, Any]]
) -> tuple[list[float], list[float]]:
    """(dependencies done -> queued, dependencies done -> started) in seconds."""
    first: dict[tuple[str | None, str], dt.datetime] = {}
    for task, kind, at in journal:
        first.setdefault((task, kind), at)
    to_queued, to_started = [], []
    for task in plan:
        deps = task.get("dependencies") or []
        done = [first.get((d, "TASK_COMPLETED")) for d in deps]
        if not deps or None in done:
            continue
        ready = max(d for d in done if d is not None)
        queued, started = (
            first.get((task["id"], "TASK_QUEUED")),
            first.get((task["id"], "TASK_STARTED")),
        )
        if queued is not None:
            to_queued.append((queued - ready).total_seconds())
        if started is not None:
            to_started.append((started - ready).total_seconds())
    return to_queued, to_started


def handoffs(journal: dict[str, list[tuple[str | None, str, dt.datetime]]]) -> list[float]:
    """Seconds from each TASK_COMPLETED that left work waiting (some task queued, not yet
    started) to the next TASK_STARTED, over all runs, paired first come first served."""
    merged = sorted(
        (at, 0 if kind == "TASK_QUEUED" else 1 if kind == "TASK_COMPLETED" else 2, kind)
        for events in journal.values()
        for _, kind, at in events
        if kind in ("TASK_QUEUED", "TASK_STARTED", "TASK_COMPLETED")
    )
    waiting, freed, found = 0, [], []
    for at, _, kind in merged:  # at one instant: queued, then completed, then started
        if kind == "TASK_QUEUED":
            waiting += 1
        elif kind == "TASK_COMPLETED" and waiting:
            freed.append(at)
        elif kind == "TASK_STARTED":
            waiting -= 1
            if freed:
                found.append((at - freed.pop(0)).total_seconds())
    return found


def lost(journal: list[tuple[str | None, str, dt.datetime]], plan: list[dict[str, Any]]) -> int:
    """Events missing or doubled: each task's queued/started/completed and the final one."""
    counts = Counter((task, kind) for task, kind, _ in journal)
    wrong = 0
    for task in plan:
        for kind in ("TASK_QUEUED", "TASK_STARTED", "TASK_COMPLETED"):
            wrong += counts[(task["id"], kind)] != 1
    wrong += sum(counts[(None, kind)] for kind in FINAL) != 1
    return wrong


def _left_over(jobs_ns: str | None) -> tuple[int, int, int]:
    """(Jobs, Pods, Pod Events) still in the job namespace."""
    if jobs_ns is None:
        return 0, 0, 0
    batch, core = client.BatchV1Api(), client.CoreV1Api()
    jobs = len(batch.list_namespaced_job(jobs_ns).items)
    pods = len(core.list_namespaced_pod(jobs_ns).items)
    events = len(core.list_namespaced_event(jobs_ns).items)
    return jobs, pods, events


def scale_once(stack: Stack, n: int, executor: str) -> dict[str, float]:
    namespace = f"scale-{n}-{executor[:4]}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api()
    crd = client.CustomObjectsApi()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    spec = yaml.safe_load(EXAMPLE.read_text())["spec"]
    with tempfile.TemporaryDirectory(prefix="prazium-scale-") as tmp, ExitStack() as cleanup:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        jobs_ns: str | None = None
        env: dict[str, str] = {"PRAZIUM_FORK_SERVER": "true"}  # the product's default
        if executor == "kubernetes":
            jobs_ns = cleanup.enter_context(job_namespace(data_dir))
            env = operator_env(jobs_ns, **startprofile.runtime_env())
        run_spec: dict[str, Any] = {}
        if MODEL_SECONDS:
            standin = cleanup.enter_context(modelpart.standin_for(executor))
            standin.reply_seconds = MODEL_SECONDS
            agent, model_env = modelpart.wire(executor, namespace, jobs_ns, standin)
            env = {**env, **model_env}
            run_spec["agent"] = agent
        operator = start_operator(
            stack,
            data_dir,
            [namespace],
            Path(tmp) / "logs",
            PRAZIUM_MAX_WORKERS=str(MAX_WORKERS),
            PRAZIUM_LOG_LEVEL="WARNING",
            **env,
        )
        pods = cleanup.enter_context(startprofile.PodWatch(jobs_ns)) if jobs_ns else None
        try:
            wait_for(lambda: _heartbeat(stack, operator.pid), 60, "operator heartbeat", operator)
            names = [f"p{i:04d}" for i in range(n)]
            for name in names:
                create(namespace, "projects", "Project", name, spec)
            for name in names:
                wait_phase(namespace, "projects", name, {"approved"}, operator, timeout=600)
            requests_before, etcd_before = apiserver_requests(), etcd_db_bytes()
            in_use_before = etcd_in_use_after_compaction()
            node = node_pids() if jobs_ns else {}
            with ProcessSampler(operator.pid, **node) as sampler:
                cpu_before = sampler.cpu()
                busy_before = procstat.machine_busy_seconds()
                split = cpu_split(operator.pid)
                split.start()
                started = time.monotonic()
                t0 = dt.datetime.now(dt.UTC)
                for name in names:
                    create(
                        namespace,
                        "runs",
                        "Run",
                        f"{name}-r",
                        {"projectRef": {"name": name}, **run_spec},
                    )
                _wait_runs(stack, namespace, n, executor, operator)
                elapsed = time.monotonic() - started
                cpu_after = sampler.cpu()
                busy = procstat.machine_busy_seconds() - busy_before
                spent = split.split()
            by_kind = apiserver_requests()
            by_kind.subtract(requests_before)
            by_kind["POST runs"] -= n  # the bench's own creates and metrics reads
            by_kind["GET -/metrics"] -= 2  # (non-resource paths are in subresource)
            requests = sum(by_kind.values())
            etcd_after = etcd_db_bytes()
            # What the ended runs left: Jobs and Pods go with each task's result and at
            # each run's end (a moment after the final event: the deletes propagate).
            # A capped level's runs go on: what they hold now is not left over.
            if jobs_ns is not None and not CAP_SECONDS:
                ns = jobs_ns
                wait_for(lambda: _left_over(ns)[:2] == (0, 0), 30, "no Job or Pod left", None)
            left_jobs, left_pods, left_events = (
                _left_over(jobs_ns) if not CAP_SECONDS else (float("nan"),) * 3
            )
            in_use_after = etcd_in_use_after_compaction()
            runs = crd.list_namespaced_custom_object(GROUP, VERSION, namespace, "runs")["items"]
            tasks = crd.list_namespaced_custom_object(GROUP, VERSION, namespace, "tasks")["items"]
            if MODEL_SECONDS and standin.session_failures:
                raise RuntimeError(f"the stand-in's checks failed: {standin.session_failures[:3]}")
            journal = journal_of(stack.database_url, namespace)
            to_queued, to_started, finished, missing = _per_run(runs, tasks, journal)
            slot_handoffs = handoffs(journal)
            last = max(at for events in journal.values() for _, _, at in events)
            makespan = (last - t0).total_seconds()
            succeeded = sum(r["status"].get("phase") == "succeeded" for r in runs)
            stored = sum(len(json.dumps(o)) for o in runs + tasks) / max(1, len(runs))
            task_count = len(tasks)
            n_done, tasks_done = n, task_count
            if CAP_SECONDS:  # the throughput of what finished, over the cap
                n_done = sum(
                    1 for events in journal.values() for _, kind, _ in events if kind in FINAL
                )
                tasks_done = sum(
                    1
                    for events in journal.values()
                    for _, kind, _ in events
                    if kind == "TASK_COMPLETED"
                )
                makespan = elapsed
            created_pods = len(pods.pods) if pods else 0
            return {
                "n": n,
                "tasks": task_count,
                "gap_queued_p50": pct(to_queued, 0.5),
                "gap_queued_p99": pct(to_queued, 0.99),
                "gap_started_p50": pct(to_started, 0.5),
                "gap_started_p99": pct(to_started, 0.99),
                "handoff_p50": pct(slot_handoffs, 0.5),
                "handoff_p99": pct(slot_handoffs, 0.99),
                "runs_per_min": n_done / makespan * 60 if makespan > 0 else 0.0,
                "tasks_per_min": tasks_done / makespan * 60 if makespan > 0 else 0.0,
                "makespan_s": makespan,
                "wait_s": elapsed,
                "pods_per_s": created_pods / makespan if makespan > 0 else 0.0,
                "pods_most_alive": float(pods.most_alive if pods else 0),
                "pods_unschedulable": float(
                    sum(t.unschedulable for t in pods.pods.values()) if pods else 0
                ),
                "operator_rss_mb": sampler.peak["operator"] / 1e6,
                "kubelet_rss_mb": sampler.peak.get("kubelet", 0) / 1e6,
                "containerd_rss_mb": sampler.peak.get("containerd", 0) / 1e6,
                "operator_cpu_s": cpu_after[0] - cpu_before[0],
                "worker_cpu_s_per_task": (cpu_after[1] - cpu_before[1]) / max(1, task_count),
                "machine_cpu_s_per_task": busy / max(1, tasks_done),
                "machine_busy_share": busy / (elapsed * (os.cpu_count() or 1)),
                **{
                    f"cpu_{part}_per_task": spent.get(part, 0.0) / max(1, tasks_done)
                    for part in CPU_PARTS
                },
                "machine_tasks_per_min_ceiling": (os.cpu_count() or 1)
                * 60
                / max(busy / max(1, tasks_done), 1e-9),
                "apiserver_req_per_run": requests / n,
                "apiserver_req_by_kind_per_run": {
                    kind: round(count / n, 1)
                    for kind, count in by_kind.most_common(12)
                    if count > 0
                },
                "etcd_growth_kb_per_run": _per_run_kb(etcd_before, etcd_after, n),
                "etcd_kept_kb_per_run": _per_run_kb(in_use_before, in_use_after, n),
                "stored_kb_per_run": stored / 1000,
                "left_jobs": float(left_jobs),
                "left_pods": float(left_pods),
                "left_events_per_run": left_events / n,
                "succeeded": succeeded,
                "finished": finished,
                "events_wrong": missing,
            }
        finally:
            operator.stop()
            core.delete_namespace(namespace, propagation_policy="Background")


def _wait_runs(
    stack: Stack, namespace: str, n: int, executor: str, operator: ServiceProcess
) -> None:
    if not CAP_SECONDS:
        wait_for(
            lambda: finished_runs(stack.database_url, namespace) >= n,
            60 + (PER_RUN_SECONDS[executor] + 20 * MODEL_SECONDS) * n,
            f"{n} runs finished",
            operator,
            interval=1.0,
        )
        return
    # A capped level: the operator carries all N runs for CAP_SECONDS (its RSS with
    # every daemon, Run and Task alive), then the figures are of the runs that
    # finished by then.
    deadline = time.monotonic() + CAP_SECONDS
    while time.monotonic() < deadline:
        if finished_runs(stack.database_url, namespace) >= n:
            break
        assert operator.alive(), operator.log_tail()
        time.sleep(1.0)


def _per_run(
    runs: list[dict[str, Any]],
    tasks: list[dict[str, Any]],
    journal: dict[str, list[tuple[str | None, str, dt.datetime]]],
) -> tuple[list[float], list[float], int, int]:
    """(gaps to queued, gaps to started, runs finished, events lost or doubled)."""
    to_queued: list[float] = []
    to_started: list[float] = []
    missing = finished = 0
    # Each task's dependencies are in its Task's spec.definition (status.plan is
    # brief: ids and slugs), so the plan is rebuilt from the Tasks.
    plans: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        plans.setdefault(task["spec"]["runRef"]["name"], []).append(task["spec"]["definition"])
    for run in runs:
        plan = plans.get(run["metadata"]["name"], [])
        events = journal.get(run["metadata"]["name"], [])
        queued, started = gaps(events, plan)
        to_queued += queued
        to_started += started
        if CAP_SECONDS and not any(kind in FINAL for _, kind, _ in events):
            continue  # capped: not finished yet, nothing to count as lost
        finished += 1
        missing += lost(events, plan)
    return to_queued, to_started, finished, missing


def _per_run_kb(before: float | None, after: float | None, n: int) -> float:
    if before is None or after is None:
        return float("nan")
    return (after - before) / n / 1000


CPU_PARTS = ("operator", "control_plane", "node_daemons", "pods", "rest")

ROWS = [
    ("gap_queued_p50", "gap: deps done -> queued p50 (s)"),
    ("gap_queued_p99", "gap: deps done -> queued p99 (s)"),
    ("gap_started_p50", "gap: deps done -> started p50 (s)"),
    ("gap_started_p99", "gap: deps done -> started p99 (s)"),
    ("handoff_p50", "handoff: slot freed -> next start p50"),
    ("handoff_p99", "handoff: slot freed -> next start p99"),
    ("runs_per_min", "runs per minute"),
    ("tasks_per_min", "tasks per minute"),
    ("makespan_s", "makespan (s)"),
    ("pods_per_s", "Pods created per second"),
    ("pods_most_alive", "Pods alive at once, at most"),
    ("pods_unschedulable", "Pods that waited for the node"),
    ("operator_rss_mb", "operator peak RSS (MB)"),
    ("kubelet_rss_mb", "kubelet peak RSS (MB)"),
    ("containerd_rss_mb", "containerd peak RSS (MB)"),
    ("operator_cpu_s", "operator CPU (s)"),
    ("worker_cpu_s_per_task", "worker CPU per task (s, local)"),
    ("machine_cpu_s_per_task", "machine CPU per task done (s, all)"),
    ("cpu_operator_per_task", "  of which the operator, workers (s)"),
    ("cpu_control_plane_per_task", "  the control plane (s)"),
    ("cpu_node_daemons_per_task", "  kubelet, containerd, proxy, router"),
    ("cpu_pods_per_task", "  the Pods (s)"),
    ("cpu_rest_per_task", "  the rest: PostgreSQL, the bench (s)"),
    ("machine_busy_share", "machine CPU busy (share of cores)"),
    ("machine_tasks_per_min_ceiling", "tasks/min the cores allow at that CPU"),
    ("apiserver_req_per_run", "apiserver requests per run"),
    ("etcd_growth_kb_per_run", "etcd db growth per run (KB)"),
    ("etcd_kept_kb_per_run", "etcd kept per run, compacted (KB)"),
    ("stored_kb_per_run", "Run + Tasks as stored (KB/run)"),
    ("left_jobs", "Jobs left after the runs"),
    ("left_pods", "Pods left after the runs"),
    ("left_events_per_run", "Pod Events left per run (1 h TTL)"),
    ("tasks", "tasks"),
    ("finished", "runs finished (all unless capped)"),
    ("succeeded", "runs succeeded"),
    ("events_wrong", "task/final events lost or doubled"),
]


def report(results: list[dict[str, Any]]) -> str:
    head = f"{'N runs at once (' + str(MAX_WORKERS) + ' slots)':<38}"
    lines = [head + "".join(f"{int(r['n']):>7} {str(r['executor'])[:4]:<4}" for r in results)]
    for key, label in ROWS:
        lines.append(f"{label:<38}" + "".join(f"{r[key]:>12.3f}" for r in results))
    by = {(int(r["n"]), str(r["executor"])): r for r in results}
    model = f", model replies {MODEL_SECONDS:g} s" if MODEL_SECONDS else ""
    lines.append(f"\ngoals (RUNTIME={startprofile.runtime_name()}{model}):")
    if (100, "kubernetes") in by:
        job = by[(100, "kubernetes")]
        if (100, "local") in by:
            ratio = job["tasks_per_min"] / (by[(100, "local")]["tasks_per_min"] or 1e-9)
            lines.append(
                f"  N=100 Job path tasks/min / local: {ratio:.0%}  goal >= 70%  "
                f"{'met' if ratio >= 0.7 else 'NOT met'}"
            )
        kept = job["etcd_kept_kb_per_run"]
        lines.append(
            f"  N=100 Job path etcd kept per run after the runs: {kept:.0f} KB  goal <= 500  "
            f"{'met' if kept <= 500 else 'NOT met'}"
            f" (db growth while running {job['etcd_growth_kb_per_run']:.0f} KB)"
        )
    for n in sorted({int(r["n"]) for r in results if int(r["n"]) >= 500}):
        for executor in EXECUTORS:
            if (n, executor) in by:
                rss = by[(n, executor)]["operator_rss_mb"]
                lines.append(
                    f"  operator RSS at N={n} ({executor}): {rss:.0f} MB  goal <= 400  "
                    f"{'met' if rss <= 400 else 'NOT met'}"
                )
    for r in results:
        kinds = ", ".join(f"{k} {v:g}" for k, v in r["apiserver_req_by_kind_per_run"].items())
        lines.append(f"  apiserver requests per run, N={int(r['n'])} {r['executor']}: {kinds}")
    ok = all(r["succeeded"] == r["finished"] and r["events_wrong"] == 0 for r in results)
    clean = all(
        r["left_jobs"] == 0 and r["left_pods"] == 0 for r in results if r["finished"] == r["n"]
    )
    capped = any(r["finished"] < r["n"] for r in results)
    lines.append(
        "  nothing lost (every finished run succeeded, events once): "
        f"{'met' if ok else 'NOT met'}"
        + (f" (capped at {CAP_SECONDS:.0f} s: not every run finished)" if capped else "")
    )
    lines.append(f"  no Job or Pod left once the runs ended: {'yes' if clean else 'NO'}")
    return "\n".join(lines)


def _heartbeat(stack: Stack, pid: int) -> bool:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT 1 FROM operator_heartbeats WHERE instance LIKE %s", (f"%-{pid}",)
        ).fetchone()
    return row is not None


def levels() -> list[int]:
    return [int(n) for n in os.environ.get("BENCH_SCALE_N", "1,25,100").split(",") if n]


# The suite's per-test timeout is for tests; a level of N runs takes minutes.
@pytest.mark.timeout(
    sum(
        300 + (PER_RUN_SECONDS[e] + 20 * MODEL_SECONDS) * n + CAP_SECONDS
        for n in levels()
        for e in EXECUTORS
    )
)
def test_bench_scale() -> None:
    """Entry point through scripts/test.sh (`make bench-scale`)."""
    stack = Stack(
        kubeconfig=os.environ["PRAZIUM_TEST_KUBECONFIG"],
        database_url=os.environ["PRAZIUM_TEST_DATABASE_URL"],
        kubectl=os.environ["PRAZIUM_TEST_KUBECTL"],
    )
    config.load_kube_config(config_file=stack.kubeconfig)
    results: list[dict[str, Any]] = []
    for n in levels():
        for executor in EXECUTORS:
            load = os.getloadavg()
            row: dict[str, Any] = {"executor": executor, **scale_once(stack, n, executor)}
            row["load"] = [round(x, 1) for x in load]
            results.append(row)
            print(f"\nN={n} {executor}: " + json.dumps(row, default=str))
    print("\n" + report(results))
    assert [int(r["n"]) for r in results] == [n for n in levels() for _ in EXECUTORS]
