"""Where a task's start goes on the Job path, step by step, for bench_build.py.

Per task of one run, from what each party records:

  ready        TASK_QUEUED in the journal (written with the last dependency's
               TASK_COMPLETED: the moment the task may start)
  go           the operator's "submitted Job" (a Job created now) or "started Job" (a
               Job created ahead: its request and go signal written) log line
  pod added    the Job controller created the Pod (seen on a watch of the job namespace),
               timed from the Job's creation ("submitted", or "created Job ... ahead")
  pod bound    the scheduler bound it to the node (spec.nodeName, same watch)
  process      the waiting process started in the container: its "waiting for the go
               signal" line minus the importSeconds it reports (kubelet: sandbox,
               network, container create and start; bash's first line)
  imported     that "waiting" line (the interpreter and the worker's imports done)
  first line   the worker's "task ... started (coder" line in the attempt's kept log
  TASK_STARTED in the journal (the operator ingests the worker's event file on its poll)

A Job created ahead did the first steps before the task was ready: its start is ready ->
first line only (the operator's go, the waiting process noticing it, the worker's
set-up). Timestamps: the journal's (PostgreSQL now()), the logs' (milliseconds) and the
watch's (this process's clock on arrival), all on one machine.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, watch

JOB_LABEL = "batch.kubernetes.io/job-name"
TASK_LABEL = "prazium.io/task"


def when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class PodTimes:
    job: str = ""
    task: str = ""  # the Task's name (label prazium.io/task)
    added: dt.datetime | None = None
    bound: dt.datetime | None = None
    running: dt.datetime | None = None
    ended: bool = False  # Succeeded, Failed or being deleted
    unschedulable: bool = False  # the scheduler found no room on the node for it


@dataclass
class PodWatch:
    """Pod ADDED / bound / Running as they arrive on a watch of one namespace."""

    namespace: str
    pods: dict[str, PodTimes] = field(default_factory=dict)
    most_alive: int = 0  # Pods Pending or Running at once, at most
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> PodWatch:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        core = client.CoreV1Api()
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for item in stream.stream(
                    core.list_namespaced_pod, self.namespace, timeout_seconds=5
                ):
                    self._saw(item["object"], item["type"])
                    if self._stop.is_set():
                        stream.stop()
            except Exception:  # a watch that broke is started again
                if self._stop.wait(0.1):
                    return

    def _saw(self, pod: Any, kind: str = "MODIFIED") -> None:
        at = now()
        times = self.pods.setdefault(pod.metadata.name, PodTimes())
        labels = pod.metadata.labels or {}
        times.job = labels.get(JOB_LABEL, "")
        times.task = labels.get(TASK_LABEL, "")
        times.added = times.added or at
        if pod.spec.node_name and times.bound is None:
            times.bound = at
        phase = pod.status.phase if pod.status else None
        if phase == "Running" and times.running is None:
            times.running = at
        times.ended = bool(
            kind == "DELETED" or phase in ("Succeeded", "Failed") or pod.metadata.deletion_timestamp
        )
        for cond in (pod.status.conditions if pod.status else None) or []:
            if cond.type == "PodScheduled" and cond.status == "False":
                times.unschedulable = True
        self.most_alive = max(self.most_alive, sum(not t.ended for t in self.pods.values()))


def operator_lines(operator_log: Path, run: str) -> dict[str, dict[str, dt.datetime]]:
    """task id -> {submitted | started | created: when} from the operator's JSON log
    (created: its Job created ahead)."""
    found: dict[str, dict[str, dt.datetime]] = {}
    for line in operator_log.read_text(encoding="utf-8", errors="replace").splitlines():
        if "Job" not in line or not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))
        if record.get("run") != run or record.get("attempt") != 1:
            continue
        for kind in ("submitted", "started", "created"):
            if message.startswith(f"{kind} Job "):
                found.setdefault(str(record.get("task")), {}).setdefault(
                    kind, when(record["timestamp"])
                )
    return found


def kept_log(result_file: Path) -> dict[str, Any]:
    """From the attempt's kept log: the waiting line's time and importSeconds, the go
    line's waitedSeconds, the worker's first line's time."""
    out: dict[str, Any] = {}
    try:
        text = result_file.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        message = str(record.get("message", ""))
        if message == "waiting for the go signal" and "imported" not in out:
            out["imported"] = when(record["timestamp"])
            out["import_s"] = float(record.get("importSeconds", 0.0))
        elif message == "go signal received" and "waited_s" not in out:
            out["waited_s"] = float(record.get("waitedSeconds", 0.0))
        elif "started (coder" in message and "first" not in out:
            out["first"] = when(record["timestamp"])
    return out


def _s(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    return (b - a).total_seconds() if a is not None and b is not None else None


def profile(
    journal: list[dict[str, Any]],
    results_dir: Path,
    operator_log: Path,
    run: str,
    pods: dict[str, PodTimes],
    task_names: dict[str, str],
    dependent_ids: set[str],
) -> list[dict[str, Any]]:
    """One row per task: the steps of its start (None where a step was not seen).
    task_names: task id -> its Task's name; dependent_ids: the tasks with dependencies
    (those whose start can be hidden behind the work before them)."""
    first: dict[tuple[str, str | None], dt.datetime] = {}
    for event in journal:
        first.setdefault((event["type"], event["task"]), event["at"])
    go = operator_lines(operator_log, run)
    by_task: dict[str, PodTimes] = {}
    for times in sorted(pods.values(), key=lambda t: t.added or now()):
        if times.job.endswith("-a1"):
            by_task.setdefault(times.task, times)
    rows = []
    for task in sorted({e["task"] for e in journal if e["task"]}):
        ready = first.get(("TASK_QUEUED", task))
        lines = go.get(task, {})
        go_at = lines.get("started") or lines.get("submitted")
        created = lines.get("created") or lines.get("submitted")
        kept = kept_log(results_dir / f"{task}-1.json")
        times = by_task.get(task_names.get(task, ""), PodTimes())
        process = (
            kept["imported"] - dt.timedelta(seconds=kept["import_s"])
            if "imported" in kept
            else None
        )
        rows.append(
            {
                "task": task,
                "ahead": "started" in lines,
                "dependent": task in dependent_ids,
                "ready_first": _s(ready, kept.get("first")),
                "ready_go": _s(ready, go_at),
                "go_added": _s(created, times.added),
                "added_bound": _s(times.added, times.bound),
                "bound_process": _s(times.bound, process),
                "imports": kept.get("import_s"),
                "imported_first": _s(kept.get("imported"), kept.get("first")),
                "go_first": _s(go_at, kept.get("first")),
                "first_started": _s(kept.get("first"), first.get(("TASK_STARTED", task))),
                "waited": kept.get("waited_s"),
            }
        )
    return rows


def runtime_env() -> dict[str, str]:
    """The operator's settings for RUNTIME=runc|gvisor (default runc: the node's default
    runtime). gvisor needs the worker RuntimeClass setting, PRAZIUM_WORKER_RUNTIME_CLASS."""
    import os

    from prazium_operator.settings import Settings

    runtime = os.environ.get("RUNTIME", "runc")
    if runtime == "runc":
        return {}
    if "worker_runtime_class" not in Settings.model_fields:
        raise SystemExit(f"RUNTIME={runtime}: this tree has no worker RuntimeClass setting")
    return {"PRAZIUM_WORKER_RUNTIME_CLASS": runtime}


def runtime_name() -> str:
    """The runtime this stack's node runs worker Pods under (scripts/test.sh exports
    the node's class), not the RUNTIME asked for, so a figure is never mislabelled."""
    import os

    return os.environ.get("PRAZIUM_TEST_WORKER_RUNTIME_CLASS") or "runc"
