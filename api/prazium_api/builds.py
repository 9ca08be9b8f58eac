"""Starting Runs under the tenant's concurrent-build quota.

Count-and-create is serialised per tenant with a PostgreSQL advisory lock, so two
API replicas cannot both see "0 active" and both create a Run.
"""

from __future__ import annotations

from prazium_api.auth.keys import Principal
from prazium_api.cluster import crs
from prazium_api.contract import views
from prazium_api.contract.errors import ApiError
from prazium_api.db import Database
from prazium_api.settings import ApiSettings
from prazium_kit import ids, kube
from prazium_kit.kube import LABEL_MANAGED_BY, LABEL_PROJECT, RUNS
from prazium_kit.types import Obj

_LOCK_PREFIX = "prazium-builds/"


def build_limit(settings: ApiSettings, tier: str) -> int:
    return {
        "free": settings.concurrent_builds_free,
        "pro": settings.concurrent_builds_pro,
        "enterprise": settings.concurrent_builds_enterprise,
    }[tier]


def active_runs(namespace: str) -> list[Obj]:
    return [
        run
        for run in crs.list_objects(namespace, RUNS)
        if views.run_phase(run) not in views.TERMINAL_RUN_PHASES
    ]


def create_run(
    database: Database,
    settings: ApiSettings,
    caller: Principal,
    project: Obj,
    trigger: str,
    parallelism: int | None = None,
    retry_of: str | None = None,
) -> Obj:
    """Create a Run CR for project, refusing with 409 CONFLICT over the tier's quota."""
    limit = build_limit(settings, caller.tier)
    project_name = project["metadata"]["name"]
    spec: Obj = {"projectRef": {"name": project_name}, "trigger": trigger}
    if parallelism is not None:
        spec["parallelism"] = parallelism
    if retry_of is not None:
        spec["retryOf"] = retry_of
    body = {
        "metadata": {
            "generateName": f"{project_name}-r",
            "labels": {LABEL_PROJECT: project_name, LABEL_MANAGED_BY: "prazium-api"},
            "ownerReferences": [kube.owner_reference(project)],
        },
        "spec": spec,
    }
    with database.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK_PREFIX + caller.tenant,))
        if limit > 0:
            active = active_runs(caller.tenant)
            if len(active) >= limit:
                raise ApiError(
                    "CONFLICT",
                    f"the {caller.tier} tier allows {limit} concurrent build(s) and"
                    f" {len(active)} are in progress; wait for one to finish or cancel it",
                    {
                        "reason": "CONCURRENT_BUILD_LIMIT",
                        "limit": limit,
                        "activeRuns": sorted(ids.run_id(r["metadata"]["name"]) for r in active),
                    },
                )
        return crs.create(caller.tenant, RUNS, body, "run")
