"""The operator's Prometheus metrics and the HTTP server that serves them.

`/metrics` on PRAZIUM_OPERATOR_METRICS_PORT (default 9464, all interfaces; 0: off),
started before leader election, so a standby answers too (its phase gauges are
empty: it watches nothing).

Runs and tasks by phase are gauges over the operator's own view, kept by the kopf
event handler on Runs (handlers/run.py): one entry per Run with its phase and its
status.tasksSummary, so no Task is watched or listed for them. Durations are
histograms observed where the work ends (a run's final phase, a worker's result,
the merge, the verification).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from prazium_kit import metrics as kit_metrics
from prazium_kit.models import RUN_PHASES, TASK_PHASES, AttemptUsage

log = logging.getLogger(__name__)

# Seconds to hours: a task or a run takes from seconds (offline agents) to an hour.
LONG_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
SHORT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)

RUN_SECONDS = Histogram(
    "prazium_run_duration_seconds",
    "A run from its start to its final phase, by final phase",
    ["phase"],
    buckets=LONG_BUCKETS,
)
TASK_SECONDS = Histogram(
    "prazium_task_duration_seconds",
    "One worker attempt, as the worker measured it, by outcome (succeeded, failed)",
    ["outcome"],
    buckets=LONG_BUCKETS,
)
MERGE_SECONDS = Histogram(
    "prazium_merge_duration_seconds",
    "Merging a run's task branches into main",
    buckets=SHORT_BUCKETS,
)
VERIFICATION_SECONDS = Histogram(
    "prazium_verification_duration_seconds",
    "The verify command (the generated app's tests), by outcome (passed, failed)",
    ["outcome"],
    buckets=SHORT_BUCKETS,
)
RECONCILE_ERRORS = Counter(
    "prazium_reconcile_errors_total",
    "Reconciles that raised (kopf retries them), by kind (run, project)",
    ["kind"],
)
for _kind in ("run", "project"):
    RECONCILE_ERRORS.labels(_kind)  # shown as 0 before the first error
AGENT_TOKENS = Counter(
    "prazium_agent_tokens_total",
    "Tokens of the coding agents' model requests, by provider, model and kind (input: every"
    " input token, cached_input and cache_write_input among them; output), counted as each"
    " attempt ends",
    ["provider", "model", "kind"],
)
AGENT_REQUESTS = Counter(
    "prazium_agent_requests_total",
    "The coding agents' model requests, by provider and model, counted as each attempt ends",
    ["provider", "model"],
)
TOKEN_KINDS = (
    ("input", "input_tokens"),
    ("output", "output_tokens"),
    ("cached_input", "cached_input_tokens"),
    ("cache_write_input", "cache_write_input_tokens"),
)
RUNNING_WORKERS = Gauge(
    "prazium_running_workers", "Workers (processes or Jobs) this operator is running"
)
WORKER_CAPACITY = Gauge(
    "prazium_worker_capacity", "Workers this operator may run at once (PRAZIUM_MAX_WORKERS)"
)


def count_tokens(usage: AttemptUsage, provider: str, models: Iterable[str | None]) -> None:
    """An ended attempt's tokens (its result's usage), once per attempt and process.

    provider: the coder the operator chose; the model as the result names it only when
    it is one of models (the one asked for, those priced), else "other": the result is
    written where untrusted code runs, and must not grow the label set."""
    model = usage.model if usage.model and usage.model in set(models) else "other"
    AGENT_REQUESTS.labels(provider, model).inc(usage.requests)
    for kind, name in TOKEN_KINDS:
        AGENT_TOKENS.labels(provider, model, kind).inc(getattr(usage, name))


class RunView(Collector):
    """Phase and task counts of every Run the operator watches, by the Run's uid."""

    def __init__(self) -> None:
        self._runs: dict[str, tuple[str, dict[str, int]]] = {}
        self._lock = threading.Lock()

    def observe(self, uid: str, status: Mapping[str, Any] | None, deleted: bool = False) -> None:
        with self._lock:
            if deleted:
                self._runs.pop(uid, None)
                return
            status = status or {}
            summary = status.get("tasksSummary") or {}
            tasks = {phase: int(summary.get(phase) or 0) for phase in TASK_PHASES}
            self._runs[uid] = (str(status.get("phase") or "pending"), tasks)

    def counts(self) -> tuple[Tally[str], Tally[str]]:
        """(runs by phase, tasks by phase)."""
        runs: Tally[str] = Tally()
        tasks: Tally[str] = Tally()
        with self._lock:
            for phase, by_phase in self._runs.values():
                runs[phase] += 1
                tasks.update(by_phase)
        return runs, tasks

    def collect(self) -> Iterable[GaugeMetricFamily]:
        runs, tasks = self.counts()
        yield _by_phase("prazium_runs", "Runs by phase", RUN_PHASES, runs)
        yield _by_phase(
            "prazium_tasks", "Tasks by phase (from the Runs' tasksSummary)", TASK_PHASES, tasks
        )
        queue = GaugeMetricFamily(
            "prazium_queue_depth",
            "Work waiting: runs not yet admitted (pending), tasks ready for a worker (queued)",
            labels=["kind"],
        )
        queue.add_metric(["runs"], runs["pending"])
        queue.add_metric(["tasks"], tasks["queued"])
        yield queue


def _by_phase(
    name: str, documentation: str, phases: Iterable[str], counts: Tally[str]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["phase"])
    for phase in phases:
        family.add_metric([phase], counts[phase])
    return family


RUNS = RunView()
REGISTRY.register(RUNS)
kit_metrics.register()  # the journal's, in this process's registry too


def serve(port: int, host: str) -> bool:
    """Start the /metrics server in a thread; False (logged) when the port is taken:
    metrics are not worth stopping the operator for."""
    if not port:
        return False
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.error("metrics: cannot listen on %s:%s (%s); /metrics is off", host, port, exc)
        return False
    log.info("metrics: serving /metrics on %s:%s", host, port)
    return True


def watch_workers(active: Callable[[], int], capacity: int) -> None:
    RUNNING_WORKERS.set_function(lambda: float(active()))
    WORKER_CAPACITY.set(capacity)


def seconds_since(stamp: str | None) -> float | None:
    """Seconds from an RFC 3339 status timestamp until now; None without one."""
    if not stamp:
        return None
    try:
        started = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=dt.UTC)
    return max((dt.datetime.now(dt.UTC) - started).total_seconds(), 0.0)
