"""Runs (builds): start, list, get, cancel, retry.

Starting a Run is bounded by the tenant's concurrent-build quota: count-and-create
is serialised per tenant with a PostgreSQL advisory lock, so two API replicas
cannot both see "0 active" and both create a Run. The answer waits (bounded) for
the operator to number the Run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prazium_api.auth.keys import Principal
from prazium_api.cluster import crs, history, lookup
from prazium_api.contract import views
from prazium_api.contract.errors import ApiError, conflict, operator_timeout
from prazium_api.contract.responses import (
    Page,
    Pagination,
    RunCancelled,
    RunDetail,
    RunStarted,
    RunSummary,
)
from prazium_api.db import Database
from prazium_api.git import repo
from prazium_api.settings import ApiSettings
from prazium_kit import ids, kube, paths
from prazium_kit.kinds import RUN, Project, Run
from prazium_kit.kube import LABEL_MANAGED_BY, LABEL_PROJECT
from prazium_kit.models import (
    PROJECT_APPROVED_PHASES,
    RUN_ACTIVE_PHASES,
    RUN_FINAL_PHASES,
    ObjectRef,
    RunPhase,
    RunSpec,
    SpecSnapshot,
)

_LOCK_PREFIX = "prazium-builds/"
SPEC_DIR = "docs/spec"
SPEC_DOCUMENTS = ("SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md")
Trigger = Literal["manual", "retry", "gitops"]


def start(
    caller: Principal,
    project_id: str,
    trigger: Trigger,
    parallelism: int | None,
    settings: ApiSettings,
    database: Database,
) -> RunStarted:
    project = lookup.project(caller.tenant, project_id)
    _refuse_unbuildable(project, project_id)
    run = _create(database, settings, caller, project, trigger, parallelism)
    return _started(caller.tenant, run, project_id, settings.sync_timeout_seconds)


def retry(
    caller: Principal, project_id: str, run_id: str, settings: ApiSettings, database: Database
) -> RunStarted:
    """A new run with the same spec snapshot (the operator takes it from retryOf)."""
    project = lookup.project(caller.tenant, project_id)
    old = lookup.run(caller.tenant, project_id, run_id, database)
    phase = views.run_phase(old)
    if phase not in RUN_FINAL_PHASES:
        raise conflict(
            f"run {run_id} is still {phase}; cancel it or wait before retrying", {"status": phase}
        )
    if views.project_phase(project) == "archived":
        raise conflict(f"project {project_id} is archived")
    run = _create(
        database, settings, caller, project, "retry", old.spec.parallelism, retry_of=old.name
    )
    return _started(caller.tenant, run, project_id, settings.sync_timeout_seconds)


def page(
    tenant: str, project_id: str, status: RunPhase | None, paging: Page, database: Database
) -> tuple[list[RunSummary], Pagination]:
    """Live Runs merged with the archived ones retention pruned from the cluster:
    ordered by run number on keys alone, then only the page's archived bodies read."""
    name = lookup.project(tenant, project_id).name
    live = {
        r.name: r
        for r in crs.list_objects(tenant, RUN)
        if r.spec.project_ref.name == name and (status is None or views.run_phase(r) == status)
    }
    keys = [(r.status.run_number or 0, r.created_at or "", n) for n, r in live.items()]
    keys += [
        (k.run_number, k.created_at, k.name)
        for k in history.run_keys(database, tenant, name, status)
        if k.name not in live
    ]
    keys.sort(reverse=True)
    shown, pagination = paging.apply(keys)
    wanted = [n for _, _, n in shown if n not in live]
    found = {**{r.name: r for r in history.runs(database, tenant, wanted)}, **live}
    return [views.run_summary(found[n]) for _, _, n in shown if n in found], pagination


def get(tenant: str, project_id: str, run_id: str, data_dir: Path, database: Database) -> RunDetail:
    run = lookup.run(tenant, project_id, run_id, database)
    tasks = lookup.tasks(tenant, run.name, database)
    return views.run_detail(run, tasks, spec_snapshot(data_dir, tenant, run))


def cancel(
    tenant: str, project_id: str, run_id: str, timeout: float, database: Database
) -> RunCancelled:
    """spec.cancel, then wait for a final phase: the operator's answer by itself (the
    Run's observedGeneration is not required to move for it)."""
    run = lookup.run(tenant, project_id, run_id, database)
    phase = views.run_phase(run)
    if phase in ("succeeded", "failed"):
        raise conflict(f"run {run_id} already {phase}", {"status": phase})
    if phase != "cancelled":
        crs.patch_spec(tenant, RUN, run.name, f"run {run_id}", cancel=True)
        finished = crs.wait_until(
            tenant,
            RUN,
            run.name,
            lambda r: views.run_phase(r) in RUN_FINAL_PHASES,
            timeout,
            f"run {run_id}",
        )
        if finished is None:
            raise operator_timeout("cancel the run", timeout)
        phase = views.run_phase(finished)
        if phase in ("succeeded", "failed"):
            # It ended on its own before the operator read spec.cancel: as finished.
            raise conflict(f"run {run_id} already {phase}", {"status": phase})
    return RunCancelled(id=run_id, status="cancelled")


def spec_snapshot(data_dir: Path, namespace: str, run: Run) -> SpecSnapshot | None:
    """status.specSnapshot with its documents read from the commit it names
    (docs/spec/ in the project's repository: the Run's status does not carry them);
    as stored when it has no commit (an older run keeps its documents inline) or
    the commit cannot be read."""
    stored = run.status.spec_snapshot
    if stored is None or not stored.commit_sha or stored.documents:
        return stored
    bare = paths.repo_path(data_dir, namespace, run.spec.project_ref.name)
    try:
        documents = {
            name: repo.read_file(bare, stored.commit_sha, f"{SPEC_DIR}/{name}").decode(
                errors="replace"
            )
            for name in SPEC_DOCUMENTS
        }
    except ApiError:
        return stored  # the repository went (project deleted) or the commit is gone
    return stored.model_copy(update={"documents": documents})


# --- starting a Run ----------------------------------------------------------------------


def _refuse_unbuildable(project: Project, project_id: str) -> None:
    phase = views.project_phase(project)
    if phase == "archived":
        raise conflict(f"project {project_id} is archived")
    if phase not in PROJECT_APPROVED_PHASES:
        raise conflict(
            f"project {project_id} has no approved spec (status {phase}); approve the spec first",
            {"status": phase},
        )


def build_limit(settings: ApiSettings, tier: str) -> int:
    """Concurrent builds the tier allows (0: unlimited)."""
    return {
        "free": settings.concurrent_builds_free,
        "pro": settings.concurrent_builds_pro,
        "enterprise": settings.concurrent_builds_enterprise,
    }[tier]


def _create(
    database: Database,
    settings: ApiSettings,
    caller: Principal,
    project: Project,
    trigger: Trigger,
    parallelism: int | None,
    retry_of: str | None = None,
) -> Run:
    """Create a Run of project, refusing with 409 CONFLICT over the tier's quota."""
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
            active = [
                run
                for run in crs.list_objects(caller.tenant, RUN)
                if views.run_phase(run) in RUN_ACTIVE_PHASES
            ]
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


def _started(tenant: str, run: Run, project_id: str, timeout: float) -> RunStarted:
    """The 201 answer: waits (bounded) for the operator to acknowledge the Run (hand
    out its run number). No acknowledgement in time is 500 OPERATOR_TIMEOUT, as for
    every synchronous route: the Run is recorded and is picked up when the operator
    is back, but a 201 without a run number would claim a start that has not happened."""
    acknowledged = crs.wait_until(
        tenant, RUN, run.name, lambda r: bool(r.status.run_number), timeout, f"run {run.name}"
    )
    if acknowledged is None:
        raise operator_timeout("start the run", timeout, runId=ids.run_id(run.name))
    return views.run_started(acknowledged, project_id)
