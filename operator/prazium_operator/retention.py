"""Retention: finished Runs leave the cluster, their record stays in PostgreSQL.

Every finished Run kept in etcd (with its Tasks and result files) would fill it as runs
accumulate; the archive keeps what the API shows of them.

Every Run is archived (prazium_kit.archive) when it finishes (reconcilers/run/finish.py).
A sweep every retention_interval_seconds then prunes, per Project, the finished Runs
its policy no longer keeps: spec.retention (keepLastRuns, maxAgeHours), each field
defaulting to the installation's setting. A pruned Run is archived once more (the
newest copy), its Tasks and the Run are deleted from the apiserver, and its results
files and any worktree left are removed from the repo volume. The newest finished
Run of a Project is always kept (the Project's latestRun names it). The journal's
own retention (journal_retention_days) expires events and pruned archived runs.

Only the leader runs the sweep: a standby operator never gets past leader election.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import shutil
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from kubernetes.client.exceptions import ApiException

from prazium_kit import archive, kube, paths, resources
from prazium_kit.models import RUN_FINAL_PHASES, ProjectSpec, spec_of
from prazium_kit.types import Obj
from prazium_operator import gitrepo, retrying
from prazium_operator.settings import Settings

log = logging.getLogger("prazium.retention")


@dataclass(frozen=True)
class Policy:
    keep_last: int  # 0: no limit by count
    max_age: dt.timedelta | None  # None: no limit by age


@dataclass(frozen=True)
class RunFacts:
    name: str
    run_number: int
    finished: bool
    completed_at: dt.datetime | None


def policy_for(settings: Settings, project: Obj | None) -> Policy:
    keep, hours = settings.retention_keep_last_runs, settings.retention_max_age_hours
    if project is not None:
        own = spec_of(project, ProjectSpec).retention
        if own is not None:
            keep = own.keep_last_runs if own.keep_last_runs is not None else keep
            hours = own.max_age_hours if own.max_age_hours is not None else hours
    return Policy(keep, dt.timedelta(hours=hours) if hours > 0 else None)


def prunable(runs: Iterable[RunFacts], policy: Policy, now: dt.datetime) -> list[str]:
    """The finished Runs policy lets go: beyond the newest keep_last, or completed
    before now - max_age. The newest finished Run always stays."""
    finished = sorted((r for r in runs if r.finished), key=lambda r: r.run_number, reverse=True)
    chosen = []
    for index, run in enumerate(finished):
        if index == 0:
            continue
        too_many = policy.keep_last > 0 and index >= policy.keep_last
        too_old = (
            policy.max_age is not None
            and run.completed_at is not None
            and run.completed_at < now - policy.max_age
        )
        if too_many or too_old:
            chosen.append(run.name)
    return chosen


def facts(run: Obj) -> RunFacts:
    status = run.get("status") or {}
    completed = status.get("completedAt")
    return RunFacts(
        name=run["metadata"]["name"],
        run_number=int(status.get("runNumber") or 0),
        finished=status.get("phase") in RUN_FINAL_PHASES,
        completed_at=dt.datetime.fromisoformat(completed.replace("Z", "+00:00"))
        if completed
        else None,
    )


def archive_now(settings: Settings, run: Obj) -> None:
    """Copy the Run and its Tasks into the run archive (retried through a DB outage)."""
    meta = run["metadata"]
    tasks = resources.list_by_label(
        meta["namespace"], kube.TASKS, f"{kube.LABEL_RUN}={meta['name']}"
    )

    def write() -> None:
        with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
            archive.archive_run(conn, run, tasks)

    retrying.call(
        write,
        window=settings.db_retry_seconds,
        transient=retrying.database_outage,
        what=f"archiving run {meta['namespace']}/{meta['name']}",
    )


def archived_usage(settings: Settings, namespace: str, project: str) -> list[Obj]:
    """status.usage of the project's finished Runs (retried through a DB outage)."""

    def read() -> list[Obj]:
        with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
            return archive.project_usage(conn, namespace, project)

    return retrying.call(
        read,
        window=settings.db_retry_seconds,
        transient=retrying.database_outage,
        what=f"reading the usage of project {namespace}/{project}",
    )


def archived_run(settings: Settings, namespace: str, name: str) -> Obj | None:
    """A pruned Run's archived record (a retry of it reads its spec snapshot here)."""
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
        return archive.get_run(conn, namespace, name)


def archived_tasks(settings: Settings, namespace: str, run: str) -> list[Obj]:
    """A pruned Run's archived Tasks (a retry of it compares its tasks with these)."""
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
        return archive.get_tasks(conn, namespace, run)


def _delete(namespace: str, plural: str, name: str) -> None:
    try:
        kube.custom_objects().delete_namespaced_custom_object(
            kube.GROUP, kube.VERSION, namespace, plural, name
        )
    except ApiException as exc:
        if exc.status != 404:
            raise


def prune_run(settings: Settings, run: Obj) -> None:
    """Archive, then delete the Run's Tasks, the Run, its results and worktrees."""
    meta = run["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    project = (run.get("spec") or {}).get("projectRef", {}).get("name", "")
    archive_now(settings, run)
    for task in resources.list_by_label(namespace, kube.TASKS, f"{kube.LABEL_RUN}={name}"):
        _delete(namespace, kube.TASKS, task["metadata"]["name"])
    _delete(namespace, kube.RUNS, name)
    results = settings.data_dir / "results" / namespace / name
    shutil.rmtree(results, ignore_errors=True)
    if project:
        repo = paths.repo_path(settings.data_dir, namespace, project)
        run_dir = paths.project_workspace(settings.data_dir, namespace, project) / name
        if run_dir.exists() and repo.exists():
            for worktree in sorted(run_dir.iterdir()):
                gitrepo.remove_worktree(repo, worktree)
        shutil.rmtree(run_dir, ignore_errors=True)
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
        archive.mark_pruned(conn, namespace, name)
    log.info("pruned run %s/%s (archived in PostgreSQL)", namespace, name)


def _list_runs(settings: Settings) -> list[Obj]:
    if not settings.namespaces:
        return resources.list_all_namespaces(kube.RUNS)
    found: list[Obj] = []
    for namespace in settings.namespaces:
        found += resources.list_by_label(namespace, kube.RUNS, "")
    return found


def _projects_by_name(namespaces: Iterable[str]) -> dict[tuple[str, str], Obj]:
    """The Projects of these namespaces, one list each (not a read per Project: a sweep
    runs every minute over every Project with history)."""
    found: dict[tuple[str, str], Obj] = {}
    for namespace in sorted(namespaces):
        for project in resources.list_by_label(namespace, kube.PROJECTS, ""):
            found[(namespace, project["metadata"]["name"])] = project
    return found


def sweep(settings: Settings, now: dt.datetime | None = None) -> list[str]:
    """One pass over every Project's Runs; the pruned Runs as namespace/name."""
    now = now or dt.datetime.now(dt.UTC)
    by_project: dict[tuple[str, str], list[Obj]] = defaultdict(list)
    for run in _list_runs(settings):
        project = (run.get("spec") or {}).get("projectRef", {}).get("name", "")
        if project and not run["metadata"].get("deletionTimestamp"):
            by_project[(run["metadata"]["namespace"], project)].append(run)
    # The newest finished Run always stays: a Project with one finished Run (the
    # common case, and every Project of a busy installation's new runs) has nothing
    # to prune, and its Project is not read at all.
    all_facts = {key: [facts(r) for r in runs] for key, runs in by_project.items()}
    candidates = {
        key: run_facts
        for key, run_facts in all_facts.items()
        if sum(1 for r in run_facts if r.finished) > 1
    }
    projects = _projects_by_name({namespace for namespace, _ in candidates})
    pruned = []
    for (namespace, project), run_facts in candidates.items():
        policy = policy_for(settings, projects.get((namespace, project)))
        if policy.keep_last <= 0 and policy.max_age is None:
            continue
        by_name = {r["metadata"]["name"]: r for r in by_project[(namespace, project)]}
        for name in prunable(run_facts, policy, now):
            prune_run(settings, by_name[name])
            pruned.append(f"{namespace}/{name}")
    if settings.journal_retention_days > 0:
        older = now - dt.timedelta(days=settings.journal_retention_days)
        with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as conn:
            events, expired = archive.expire(conn, older)
        if events or expired:
            log.info("journal retention: %d events and %d archived runs expired", events, expired)
    return pruned


async def sweep_forever(settings: Settings, stop: asyncio.Event) -> None:
    """The operator's retention loop; an error is logged and the next pass tries again."""
    interval = settings.retention_interval_seconds
    while not stop.is_set():
        try:
            await asyncio.to_thread(functools.partial(sweep, settings))
        except Exception:  # the loop must outlive any one failed pass
            log.exception("retention sweep failed; next pass in %ss", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
