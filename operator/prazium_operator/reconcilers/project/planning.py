"""Where a Project's step runs: inline, or in a background task when it needs the planner.

The step itself is spec.reconcile, one idempotent function. What is new here
is *where* it runs, because the planner (clarify, write_spec) may take minutes
with a real agent and a kopf handler must not hold its Project that long:

* Steps that need no planner (approval of an existing version, archive,
  GitOps specDocuments, an unchanged spec) run inline: the handler returns the
  result and kopf patches it into status with observedGeneration.
* Steps that need the planner (spec.planning_needed) start one asyncio task
  per (project, generation), kept in ``memo.planning`` (one dict shared by all
  Projects, made at startup), and the handler returns at once. A newer
  generation's handler cancels the older task; a handler for the generation
  already being planned leaves it alone.
* The task works from a fresh read of the Project and writes only through
  status patches guarded by the resourceVersion it read (409 means: read again).
  First it marks the Project Reconciling=True, reason Planning (observedGeneration
  untouched), then runs the planner in a thread, then writes the results with
  observedGeneration in one patch. If the generation moved on meanwhile the
  result is dropped, so a stale result never overwrites a newer one; after a
  conflict the step is recomputed on the fresh status with the planner's answers
  remembered (spec.PlannerCalls), which makes the retry cheap.
* Crash-safety needs nothing more: kopf's on.resume runs the handler for every
  Project when the operator starts, and a Project whose planning never finished
  still needs the planner, so planning starts again.

A task (rather than a kopf daemon per Project) because planning is a bounded
job per generation, not a loop for the object's lifetime; unexpected failures
(API or git errors) are retried by the task with backoff, as kopf would retry a
failing handler, while agent failures stall the Project (spec.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from prazium_kit import resources
from prazium_kit.kube import PROJECTS
from prazium_kit.models import ProjectSpec, ProjectStatus, spec_of, status_of, status_patch
from prazium_kit.types import Obj
from prazium_operator import kevents
from prazium_operator.reconcilers.project import spec as spec_step
from prazium_operator.status import project as project_status

log = logging.getLogger("prazium_operator.handlers.project")
MAX_CONFLICT_RETRIES = 50
MAX_BACKOFF_SECONDS = 60.0

Key = tuple[str, str]


@dataclass
class Planning:
    generation: int | None
    task: asyncio.Task[None]


def cancel(planning: dict[Key, Planning], key: Key) -> None:
    entry = planning.pop(key, None)
    if entry is not None:
        entry.task.cancel()


async def reconcile(
    data_dir: Path,
    namespace: str,
    name: str,
    spec: ProjectSpec,
    status: ProjectStatus,
    generation: int | None,
    planning: dict[Key, Planning],
    involved: Obj,
) -> Obj | None:
    """One handler call: the status patch to apply now, or None when planning took over.

    involved is the Project as the handler got it: what its Kubernetes Events name."""
    key = (namespace, name)
    if spec_step.planning_needed(spec, status):
        running = planning.get(key)
        if running is not None and running.generation == generation and not running.task.done():
            return None  # this generation is being planned already
        cancel(planning, key)
        task = asyncio.get_running_loop().create_task(
            plan_in_background(data_dir, namespace, name, generation, planning),
            name=f"plan {namespace}/{name} generation {generation}",
        )
        planning[key] = Planning(generation, task)
        return None
    cancel(planning, key)  # an older generation's planning is superseded
    step = await asyncio.to_thread(
        spec_step.reconcile, data_dir, namespace, name, spec, status, generation
    )
    await asyncio.to_thread(post_events, involved, status, step.status)
    return step.patch()


def post_events(project: Obj, before: ProjectStatus, after: ProjectStatus) -> None:
    """The Kubernetes Events of a step (questions ready, spec written, approved, stalled)."""
    for item in project_status.events_between(before, after):
        kevents.post(project, item.reason, item.message, warning=item.warning)


async def plan_in_background(
    data_dir: Path, namespace: str, name: str, generation: int | None, planning: dict[Key, Planning]
) -> None:
    """Plan this generation and record it; retried with backoff on unexpected errors."""
    calls = spec_step.PlannerCalls()
    delay = 1.0
    try:
        while True:
            try:
                await asyncio.to_thread(plan, data_dir, namespace, name, generation, calls)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "planning %s/%s (generation %s) failed; retrying in %.0fs",
                    namespace,
                    name,
                    generation,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
    finally:
        entry = planning.get((namespace, name))
        if entry is not None and entry.task is asyncio.current_task():
            del planning[(namespace, name)]


def plan(
    data_dir: Path, namespace: str, name: str, generation: int | None, calls: spec_step.PlannerCalls
) -> None:
    """Mark the Project Planning, run the step, write its result (blocking; in a thread)."""
    marked = False
    for _ in range(MAX_CONFLICT_RETRIES):
        obj = resources.get(namespace, PROJECTS, name)
        if obj is None or obj["metadata"].get("generation") != generation:
            return  # deleted, or superseded: the newer generation's handler took over
        spec = spec_of(obj, ProjectSpec)
        status = status_of(obj, ProjectStatus)
        final = marked or not spec_step.planning_needed(spec, status)
        step: spec_step.Step | None = None
        if final:
            step = spec_step.reconcile(data_dir, namespace, name, spec, status, generation, calls)
            change = step.patch()
        else:
            status.conditions = project_status.planning_conditions(spec, status, generation)
            change = status_patch(status, "conditions")
        try:
            resources.patch_status_at(
                namespace, PROJECTS, name, obj["metadata"]["resourceVersion"], change
            )
        except Exception as exc:
            if resources.is_conflict(exc):
                continue
            raise
        if step is not None:
            post_events(obj, status, step.status)
            return
        marked = True
    raise RuntimeError(f"project {namespace}/{name}: status kept changing under us")
