"""Project status fields that Runs change, under the apiserver's optimistic concurrency.

Run numbers and the one-active-run-per-project slot live in the Project's
status (runCounter, activeRun). Each change reads the Project, edits its typed
status and replaces it with the resourceVersion it read; a 409 means someone
else won the race, so read again and retry. Never "list runs and add one".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

from prazium_kit import kube, resources
from prazium_kit.models import LatestRun, ProjectStatus, RunPhase, Usage, status_patch
from prazium_operator.reconcilers.project import core
from prazium_operator.status import project as project_status

MAX_CONFLICT_RETRIES = 50
T = TypeVar("T")


class ProjectGone(LookupError):
    pass


class _Unchanged:
    """A change that found nothing to do: no write."""


UNCHANGED = _Unchanged()


def _update(
    namespace: str, project: str, change: Callable[[ProjectStatus], T | _Unchanged]
) -> T | None:
    """Apply change(status) -> value with read/replace/retry-on-409; return the value.

    Only the fields change() touched are replaced in the stored status, so the
    rest stays exactly as it was read.
    """
    for _ in range(MAX_CONFLICT_RETRIES):
        obj = resources.get(namespace, kube.PROJECTS, project)
        if obj is None:
            raise ProjectGone(f"project {project!r} not found in namespace {namespace!r}")
        stored = obj.setdefault("status", {})
        status = ProjectStatus.model_validate(stored)
        before = status.model_copy(deep=True)
        value = change(status)
        if isinstance(value, _Unchanged):
            return None
        changed = [
            name
            for name in ProjectStatus.model_fields
            if getattr(status, name) != getattr(before, name)
        ]
        stored.update(status_patch(status, *changed))
        try:
            resources.replace_status(namespace, kube.PROJECTS, obj)
        except Exception as exc:
            if resources.is_conflict(exc):
                continue
            raise
        return value
    raise RuntimeError(f"project {project!r}: status kept changing under us")


def allocate_run_number(namespace: str, project: str) -> int:
    def bump(status: ProjectStatus) -> int:
        status.run_counter = (status.run_counter or 0) + 1
        return status.run_counter

    number = _update(namespace, project, bump)
    assert number is not None
    return number


def try_acquire_slot(
    namespace: str, project: str, run: str, holder_active: Callable[[str], bool]
) -> str | None:
    """Take the project's build slot for run; None on success, else the run holding it."""
    holder_seen: list[str] = []

    def take(status: ProjectStatus) -> str | _Unchanged:
        holder = status.active_run
        decision = core.slot_decision(
            holder, run, bool(holder) and holder != run and holder_active(str(holder))
        )
        if decision is core.Slot.WAIT:
            holder_seen.append(str(holder))
        if decision is not core.Slot.TAKE:
            return UNCHANGED
        status.active_run = run
        return run

    _update(namespace, project, take)
    return holder_seen[-1] if holder_seen else None


def record_usage(namespace: str, project: str, usage: Usage) -> None:
    """status.usage: the project's finished runs', as summed from their records (a
    total recomputed, never an addition, so a run ending twice counts once)."""

    def put(status: ProjectStatus) -> bool | _Unchanged:
        if status.usage == usage:
            return UNCHANGED
        status.usage = usage
        return True

    with contextlib.suppress(ProjectGone):
        _update(namespace, project, put)


def release_slot(namespace: str, project: str, run: str) -> None:
    def give_back(status: ProjectStatus) -> bool | _Unchanged:
        if status.active_run != run:
            return UNCHANGED
        status.active_run = None
        return True

    with contextlib.suppress(ProjectGone):
        _update(namespace, project, give_back)


def record_latest_run(
    namespace: str,
    project: str,
    run: str,
    run_number: int,
    phase: RunPhase,
    spec_version: int | None,
    archived: bool,
) -> None:
    """Point status.latestRun at this run (unless a newer run is already there)."""

    def point(status: ProjectStatus) -> bool | _Unchanged:
        latest = status.latest_run
        if latest is not None and (latest.run_number or 0) > run_number:
            return UNCHANGED
        wanted = LatestRun(name=run, runNumber=run_number, phase=phase, specVersion=spec_version)
        if latest == wanted:
            return UNCHANGED
        status.latest_run = wanted
        project_status.set_phase(status, archived, status.observed_generation)
        return True

    with contextlib.suppress(ProjectGone):
        _update(namespace, project, point)
