"""Project reconciler: description -> questions -> spec -> approval (see specflow.py).

The step itself is specflow.reconcile, one idempotent function. What is new here
is *where* it runs, because the planner (clarify, write_spec) may take minutes
with a real agent and a kopf handler must not hold its Project that long:

* Steps that need no planner (approval of an existing version, archive,
  GitOps specDocuments, an unchanged spec) run inline as before: the handler
  returns the result and kopf patches it into status with observedGeneration.
* Steps that need the planner (specflow.planning_needed) start one asyncio task
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
  remembered (specflow.PlannerCalls), which makes the retry cheap.
* Crash-safety needs nothing more: kopf's on.resume runs the handler for every
  Project when the operator starts, and a Project whose planning never finished
  still needs the planner, so planning starts again.

A task (rather than a kopf daemon per Project) because planning is a bounded
job per generation, not a loop for the object's lifetime; unexpected failures
(API or git errors) are retried by the task with backoff, as kopf would retry a
failing handler, while agent failures stall the Project (specflow).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf

from prazium_kit import paths, resources
from prazium_kit.kube import GROUP, PROJECTS, VERSION
from prazium_operator import conditions, specflow
from prazium_operator.settings import get_settings

log = logging.getLogger(__name__)
PLANNING = "Planning"
MAX_CONFLICT_RETRIES = 50
MAX_BACKOFF_SECONDS = 60.0

Key = tuple[str, str]


@dataclass
class Planning:
    generation: int | None
    task: asyncio.Task[None]


def _planning(memo: kopf.Memo) -> dict[Key, Planning]:
    planning: dict[Key, Planning] = memo.planning
    return planning


def _cancel(planning: dict[Key, Planning], key: Key) -> None:
    entry = planning.pop(key, None)
    if entry is not None:
        entry.task.cancel()


@kopf.on.resume(GROUP, VERSION, PROJECTS)
@kopf.on.create(GROUP, VERSION, PROJECTS)
@kopf.on.update(GROUP, VERSION, PROJECTS)
async def reconcile_project(
    name: str, namespace: str | None, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta,
    patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    assert namespace is not None  # Projects are namespaced
    generation = meta.get("generation")
    key = (namespace, name)
    planning = _planning(memo)
    spec_now, status_now = copy.deepcopy(dict(spec)), copy.deepcopy(dict(status))
    if specflow.planning_needed(spec_now, status_now):
        running = planning.get(key)
        if running is not None and running.generation == generation \
                and not running.task.done():
            return  # this generation is being planned already
        _cancel(planning, key)
        task = asyncio.get_running_loop().create_task(
            plan_in_background(get_settings().data_dir, namespace, name, generation, planning),
            name=f"plan {namespace}/{name} generation {generation}")
        planning[key] = Planning(generation, task)
        return
    _cancel(planning, key)  # an older generation's planning is superseded
    result = await asyncio.to_thread(
        specflow.reconcile, get_settings().data_dir, namespace, name, spec_now, status_now,
        generation,
    )
    patch.status.update(result)


async def plan_in_background(data_dir: Path, namespace: str, name: str,
                             generation: int | None, planning: dict[Key, Planning]) -> None:
    """Plan this generation and record it; retried with backoff on unexpected errors."""
    calls = specflow.PlannerCalls()
    delay = 1.0
    try:
        while True:
            try:
                await asyncio.to_thread(plan, data_dir, namespace, name, generation, calls)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("planning %s/%s (generation %s) failed; retrying in %.0fs",
                              namespace, name, generation, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)
    finally:
        entry = planning.get((namespace, name))
        if entry is not None and entry.task is asyncio.current_task():
            del planning[(namespace, name)]


def plan(data_dir: Path, namespace: str, name: str, generation: int | None,
         calls: specflow.PlannerCalls) -> None:
    """Mark the Project Planning, run the step, write its result (blocking; in a thread)."""
    marked = False
    for _ in range(MAX_CONFLICT_RETRIES):
        obj = resources.get(namespace, PROJECTS, name)
        meta = (obj or {}).get("metadata") or {}
        if obj is None or meta.get("generation") != generation:
            return  # deleted, or superseded: the newer generation's handler took over
        spec = dict(obj.get("spec") or {})
        status = dict(obj.get("status") or {})
        final = marked or not specflow.planning_needed(spec, status)
        if final:
            change = specflow.reconcile(data_dir, namespace, name, spec, status, generation,
                                        calls)
        else:
            change = {"conditions": planning_conditions(spec, status, generation)}
        try:
            resources.patch_status_at(namespace, PROJECTS, name, meta["resourceVersion"], change)
        except Exception as exc:
            if resources.is_conflict(exc):
                continue
            raise
        if final:
            return
        marked = True
    raise RuntimeError(f"project {namespace}/{name}: status kept changing under us")


def planning_conditions(spec: dict[str, Any], status: dict[str, Any],
                        generation: int | None) -> list[dict[str, Any]]:
    planner = (spec.get("agent") or {}).get("planner") or "template"
    doing = ("writing the spec documents" if status.get("questions")
             else "writing clarifying questions")
    return conditions.build(status.get("conditions"), generation, ready=False,
                            reconciling=True, stalled=False, reason=PLANNING,
                            message=f"the {planner} planner is {doing}")


@kopf.on.delete(GROUP, VERSION, PROJECTS)
async def remove_project_files(name: str, namespace: str | None, memo: kopf.Memo,
                               **_: Any) -> None:
    """Deleting a Project removes its repository and workspaces, and nothing else."""
    assert namespace is not None
    _cancel(_planning(memo), (namespace, name))
    data_dir = get_settings().data_dir
    for path in (paths.repo_path(data_dir, namespace, name),
                 paths.project_workspace(data_dir, namespace, name)):
        await asyncio.to_thread(shutil.rmtree, path, True)
