"""Starting Runs under the tenant's concurrent-build quota.

Count-and-create is serialised per tenant with a PostgreSQL advisory lock, so two
API replicas cannot both see "0 active" and both create a Run.
"""

from __future__ import annotations

from typing import Literal

from prazium_api.auth.keys import Principal
from prazium_api.cluster import crs
from prazium_api.contract import views
from prazium_api.contract.errors import ApiError
from prazium_api.db import Database
from prazium_api.settings import ApiSettings
from prazium_kit import ids, kube
from prazium_kit.kinds import RUN, Project, Run
from prazium_kit.kube import LABEL_MANAGED_BY, LABEL_PROJECT
from prazium_kit.models import RUN_ACTIVE_PHASES, ObjectRef, RunSpec

_LOCK_PREFIX = "prazium-builds/"


def build_limit(settings: ApiSettings, tier: str) -> int:
    return {
        "free": settings.concurrent_builds_free,
        "pro": settings.concurrent_builds_pro,
        "enterprise": settings.concurrent_builds_enterprise,
    }[tier]


def active_runs(namespace: str) -> list[Run]:
    return [
        run for run in crs.list_objects(namespace, RUN) if views.run_phase(run) in RUN_ACTIVE_PHASES
    ]


def create_run(
    database: Database,
    settings: ApiSettings,
    caller: Principal,
    project: Project,
    trigger: Literal["manual", "retry", "gitops"],
    parallelism: int | None = None,
    retry_of: str | None = None,
) -> Run:
    """Create a Run CR for project, refusing with 409 CONFLICT over the tier's quota."""
    limit = build_limit(settings, caller.tier)
    given = {"parallelism": parallelism, "retryOf": retry_of}
    spec = RunSpec.model_validate(
        {
            "projectRef": ObjectRef(name=project.name),
            "trigger": trigger,
            **{field: value for field, value in given.items() if value is not None},
        }
    )
    metadata = {
        "generateName": f"{project.name}-r",
        "labels": {LABEL_PROJECT: project.name, LABEL_MANAGED_BY: "prazium-api"},
        "ownerReferences": [kube.owner_reference(project.obj)],
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
                        "activeRuns": sorted(ids.run_id(r.name) for r in active),
                    },
                )
        return crs.create(caller.tenant, RUN, metadata, spec, "run")
