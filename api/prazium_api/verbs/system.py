"""The system: its health (each component the API depends on, checked for real) and,
for admins, statistics from real data - CRs across namespaces (the journal's history
is not needed for counts), workers from operator heartbeats."""

from __future__ import annotations

import asyncio
import logging

from prazium_api import __version__
from prazium_api.auth.gate import Gate
from prazium_api.cluster import crs
from prazium_api.contract import views
from prazium_api.contract.errors import ApiError
from prazium_api.contract.responses import (
    EventCounts,
    Health,
    ProjectCounts,
    QueueCounts,
    RunCounts,
    Stats,
    WorkerCounts,
)
from prazium_api.db import Database
from prazium_api.server import health
from prazium_api.settings import ApiSettings
from prazium_kit.kinds import PROJECT, RUN, TASK
from prazium_kit.models import RUN_ACTIVE_PHASES, TASK_WAITING_PHASES

log = logging.getLogger(__name__)
COMPONENTS = ("kubernetes", "database", "operator")


async def health_of(
    settings: ApiSettings, gate: Gate, bearer: str | None, session: str | None, client_ip: str
) -> Health:
    """Each component healthy or not; why not (details) only for an admin key or
    session (bearer, session), since the reasons name hosts, ports and driver errors."""
    checks = await asyncio.gather(
        asyncio.to_thread(health.check_kubernetes),
        asyncio.to_thread(health.check_database, settings.database_url),
        asyncio.to_thread(
            health.check_operator, settings.database_url, settings.operator_stale_seconds
        ),
    )
    components = {name: state for name, (state, _) in zip(COMPONENTS, checks, strict=True)}
    problems = {name: why for name, (_, why) in zip(COMPONENTS, checks, strict=True) if why}
    if not problems:
        return Health(status=health.HEALTHY, version=__version__, components=components)
    # The reasons go to the log (for whoever runs the service) and to admins.
    log.warning("unhealthy: %s", "; ".join(f"{k}: {v}" for k, v in problems.items()))
    if await is_admin(gate, bearer, session, client_ip):
        return Health(
            status=health.UNHEALTHY, version=__version__, components=components, details=problems
        )
    return Health(status=health.UNHEALTHY, version=__version__, components=components)


async def is_admin(gate: Gate, bearer: str | None, session: str | None, client_ip: str) -> bool:
    """Whether the credentials are an admin key or session. Never an error: health is
    public, and with the database down no credential can be checked at all."""
    if not bearer and not session:
        return False
    try:
        outcome = await gate.check(bearer, session, client_ip)
    except ApiError:
        return False
    return outcome.principal is not None and outcome.principal.is_admin


def stats(database: Database, stale_seconds: float) -> Stats:
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
