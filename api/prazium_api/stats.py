"""/v1/admin/stats from real data: CRs across namespaces, the journal's history is
not needed for counts; workers from operator heartbeats."""

from __future__ import annotations

from prazium_api.cluster import crs
from prazium_api.contract import views
from prazium_api.contract.responses import (
    EventCounts,
    ProjectCounts,
    QueueCounts,
    RunCounts,
    Stats,
    WorkerCounts,
)
from prazium_api.db import Database
from prazium_kit.kinds import PROJECT, RUN, TASK
from prazium_kit.models import RUN_ACTIVE_PHASES, TASK_WAITING_PHASES


def collect(database: Database, stale_seconds: float) -> Stats:
    projects = crs.list_all_namespaces(PROJECT)
    run_phases = [views.run_phase(run) for run in crs.list_all_namespaces(RUN)]
    task_phases = [views.task_phase(task) for task in crs.list_all_namespaces(TASK)]
    with database.connection() as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(max_workers), 0), coalesce(sum(active_workers), 0)"
            " FROM operator_heartbeats WHERE last_seen > now() - make_interval(secs => %s)",
            (stale_seconds,),
        ).fetchone()
        events = conn.execute("SELECT count(*) FROM events").fetchone()
    operators, capacity, busy = (int(v) for v in row) if row else (0, 0, 0)
    return Stats(
        projects=ProjectCounts(
            total=len(projects),
            active=sum(1 for p in projects if views.project_phase(p) != "archived"),
        ),
        runs=RunCounts(
            total=len(run_phases),
            succeeded=run_phases.count("succeeded"),
            failed=run_phases.count("failed"),
            cancelled=run_phases.count("cancelled"),
            inProgress=sum(1 for p in run_phases if p in RUN_ACTIVE_PHASES),
        ),
        queue=QueueCounts(
            pending=sum(1 for p in task_phases if p in TASK_WAITING_PHASES),
            processing=task_phases.count("running"),
        ),
        workers=WorkerCounts(total=capacity, active=busy, operators=operators),
        events=EventCounts(total=int(events[0]) if events else 0),
    )
