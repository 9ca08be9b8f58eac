"""Project status fields that Runs change, under the apiserver's optimistic concurrency.

Run numbers and the one-active-run-per-project slot live in the Project's
status (runCounter, activeRun). Each change reads the Project, edits status and
replaces it with the resourceVersion it read; a 409 means someone else won the
race, so read again and retry. Never "list runs and add one".
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from prazium_kit import kube, models, resources
from prazium_operator import conditions

ACTIVE_RUN_PHASES = models.RUN_ACTIVE_PHASES
BUSY_RUN_PHASES = ACTIVE_RUN_PHASES - {"pending"}
TERMINAL_RUN_PHASES = models.RUN_FINAL_PHASES
MAX_CONFLICT_RETRIES = 50


class ProjectGone(LookupError):
    pass


def _update(namespace: str, project: str,
            change: Callable[[dict[str, Any]], Any]) -> Any:
    """Apply change(obj) -> value with read/replace/retry-on-409; return the value."""
    for _ in range(MAX_CONFLICT_RETRIES):
        obj = resources.get(namespace, kube.PROJECTS, project)
        if obj is None:
            raise ProjectGone(f"project {project!r} not found in namespace {namespace!r}")
        obj.setdefault("status", {})
        value = change(obj)
        if value is _UNCHANGED:
            return None
        try:
            resources.replace_status(namespace, kube.PROJECTS, obj)
        except Exception as exc:
            if resources.is_conflict(exc):
                continue
            raise
        return value
    raise RuntimeError(f"project {project!r}: status kept changing under us")


_UNCHANGED = object()


def allocate_run_number(namespace: str, project: str) -> int:
    def bump(obj: dict[str, Any]) -> int:
        status = obj["status"]
        status["runCounter"] = int(status.get("runCounter") or 0) + 1
        return int(status["runCounter"])

    return int(_update(namespace, project, bump))


def try_acquire_slot(namespace: str, project: str, run: str,
                     holder_active: Callable[[str], bool]) -> str | None:
    """Take the project's build slot for run; None on success, else the run holding it."""
    holder_seen: list[str] = []

    def take(obj: dict[str, Any]) -> Any:
        status = obj["status"]
        holder = status.get("activeRun")
        if holder == run:
            return _UNCHANGED
        if holder and holder_active(holder):
            holder_seen.append(holder)
            return _UNCHANGED
        status["activeRun"] = run
        return run

    _update(namespace, project, take)
    return holder_seen[-1] if holder_seen else None


def release_slot(namespace: str, project: str, run: str) -> None:
    def give_back(obj: dict[str, Any]) -> Any:
        status = obj["status"]
        if status.get("activeRun") != run:
            return _UNCHANGED
        status["activeRun"] = None
        return True

    with contextlib.suppress(ProjectGone):
        _update(namespace, project, give_back)


def project_phase(status: dict[str, Any], archived: bool) -> str:
    """The Project's phase from its spec state and its latest run (one rule, used everywhere)."""
    if archived:
        return "archived"
    spec_state = status.get("spec") or {}
    version = spec_state.get("version")
    if not version:
        return "clarifying" if status.get("questions") else "draft"
    if spec_state.get("approvedVersion") != version:
        return "spec_review"
    latest = status.get("latestRun") or {}
    if latest.get("specVersion") == version:
        run_phase = latest.get("phase")
        if run_phase in ACTIVE_RUN_PHASES:
            return "building"
        if run_phase == "succeeded":
            return "built"
        if run_phase == "failed":
            return "failed"
    return "approved"


def record_latest_run(namespace: str, project: str, run: str, run_number: int, phase: str,
                      spec_version: int | None, archived: bool) -> None:
    """Point status.latestRun at this run (unless a newer run is already there)."""
    def point(obj: dict[str, Any]) -> Any:
        status = obj["status"]
        latest = status.get("latestRun") or {}
        if latest.get("runNumber", 0) > run_number:
            return _UNCHANGED
        wanted = {"name": run, "runNumber": run_number, "phase": phase,
                  "specVersion": spec_version}
        if latest == wanted:
            return _UNCHANGED
        status["latestRun"] = wanted
        status["phase"] = project_phase(status, archived)
        status["conditions"] = project_conditions(status, status.get("observedGeneration"))
        return True

    with contextlib.suppress(ProjectGone):
        _update(namespace, project, point)


def project_conditions(status: dict[str, Any], generation: int | None) -> list[dict[str, Any]]:
    phase = status.get("phase", "draft")
    reasons = {
        "draft": "AwaitingQuestions", "clarifying": "AwaitingAnswers",
        "spec_review": "AwaitingApproval", "approved": "Approved", "building": "Building",
        "built": "Built", "failed": "BuildFailed", "archived": "Archived",
    }
    message = status.get("message") or {
        "clarifying": "answer status.questions in spec.answers (an empty list uses defaults)",
        "spec_review": "review status.spec.documents and set spec.approval.specVersion",
        "approved": "spec approved; create a Run to build it",
        "building": "a run is building the approved spec",
        "built": "the latest run built the approved spec",
        "failed": "the latest run failed",
        "archived": "archived; no new runs",
    }.get(phase, phase)
    return conditions.build(
        status.get("conditions"), generation,
        ready=phase in {"approved", "building", "built"}, reconciling=phase == "building",
        stalled=phase == "failed", reason=reasons.get(phase, "Unknown"), message=message)
