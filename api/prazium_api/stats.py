"""/v1/admin/stats from real data: CRs across namespaces, the journal's history is
not needed for counts; workers from operator heartbeats."""

from __future__ import annotations

from typing import Any

from prazium_api.cluster import crs
from prazium_api.contract import views
from prazium_api.db import Database
from prazium_kit.kube import PROJECTS, RUNS, TASKS

IN_PROGRESS = frozenset({"pending", "decomposing", "executing", "merging", "verifying"})


def collect(database: Database, stale_seconds: float) -> dict[str, Any]:
    projects = crs.list_all_namespaces(PROJECTS)
    runs = crs.list_all_namespaces(RUNS)
    tasks = crs.list_all_namespaces(TASKS)
    run_phases = [views.run_phase(run) for run in runs]
    task_phases = [str(t.get("status", {}).get("phase") or "pending") for t in tasks]
    with database.connection() as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(max_workers), 0), coalesce(sum(active_workers), 0)"
            " FROM operator_heartbeats WHERE last_seen > now() - make_interval(secs => %s)",
            (stale_seconds,),
        ).fetchone()
        events = conn.execute("SELECT count(*) FROM events").fetchone()
    operators, capacity, busy = (int(v) for v in row) if row else (0, 0, 0)
    return {
        "projects": {
            "total": len(projects),
            "active": sum(1 for p in projects if views.project_phase(p) != "archived"),
        },
        "runs": {
            "total": len(runs),
            "succeeded": run_phases.count("succeeded"),
            "failed": run_phases.count("failed"),
            "cancelled": run_phases.count("cancelled"),
            "inProgress": sum(1 for p in run_phases if p in IN_PROGRESS),
        },
        "queue": {
            "pending": sum(1 for p in task_phases if p in ("pending", "queued")),
            "processing": task_phases.count("running"),
        },
        "workers": {"total": capacity, "active": busy, "operators": operators},
        "events": {"total": int(events[0]) if events else 0},
    }
