"""What one Run's daemon knows while it drives the Run, and the writes all phases share.

Status lives in two places on purpose: ``ctx.status`` is the driver's own copy
(read back without a round trip), and every change is also patched to the Run,
because after an operator restart the Run's status is all there is to resume from.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf

from prazium_kit import kube, paths, resources
from prazium_operator import conditions, kevents, projectstate, recorder
from prazium_operator.executor.base import Executor
from prazium_operator.settings import Settings

TERMINAL = projectstate.TERMINAL_RUN_PHASES


class RunFailed(Exception):
    pass


class RunCancelled(Exception):
    pass


class Stopped(Exception):
    """The daemon must exit (operator exiting or Run deleted); nothing is written."""


@dataclass
class TaskState:
    definition: dict[str, Any]
    body: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.definition["id"])

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def status(self) -> dict[str, Any]:
        return self.body.setdefault("status", {})

    @property
    def phase(self) -> str:
        return str(self.status.get("phase") or "pending")


@dataclass
class RunContext:
    ns: str
    name: str
    live: kopf.Body  # kopf keeps it current: spec.cancel arrives here
    executor: Executor
    settings: Settings
    stopped: kopf.DaemonStopped
    run: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    project_obj: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, TaskState] = field(default_factory=dict)
    observed: int | None = None

    @property
    def project(self) -> str:
        return str(self.run["spec"]["projectRef"]["name"])

    @property
    def repo(self) -> Path:
        return paths.repo_path(self.settings.data_dir, self.ns, self.project)


def check(ctx: RunContext, *, cancellable: bool = True) -> None:
    if ctx.stopped:
        raise Stopped()
    live = (ctx.live.get("metadata") or {}).get("generation")
    if live is not None:
        ctx.observed = int(live)  # from here on, this generation's spec is acted on
    if cancellable and (ctx.live.get("spec") or {}).get("cancel"):
        raise RunCancelled()


async def sleep(ctx: RunContext, seconds: float) -> None:
    await ctx.stopped.wait(seconds)


def generation(ctx: RunContext) -> int | None:
    """The generation of the spec last acted on (the live spec, read by check)."""
    return ctx.observed or ctx.run["metadata"].get("generation")


def spec(ctx: RunContext) -> dict[str, Any]:
    return dict(ctx.live.get("spec") or ctx.run.get("spec") or {})


def agent(ctx: RunContext) -> dict[str, Any]:
    merged = dict((ctx.project_obj.get("spec") or {}).get("agent") or {})
    merged.update({k: v for k, v in (ctx.run["spec"].get("agent") or {}).items() if v})
    return merged


def in_phase(ctx: RunContext, *phases: str) -> list[TaskState]:
    return [t for t in ctx.tasks.values() if t.phase in phases]


async def set_status(ctx: RunContext, **fields: Any) -> None:
    ctx.status.update(fields)
    await asyncio.to_thread(resources.patch_status, ctx.ns, kube.RUNS, ctx.name, fields)


async def set_phase(ctx: RunContext, phase: str, message: str = "") -> None:
    gen = generation(ctx)
    await set_status(ctx, phase=phase, message=message, observedGeneration=gen,
                     conditions=phase_conditions(ctx.status.get("conditions"), gen, phase,
                                                 message))
    if ctx.status.get("runNumber"):
        await asyncio.to_thread(
            projectstate.record_latest_run, ctx.ns, ctx.project, ctx.name,
            int(ctx.status["runNumber"]), phase,
            (ctx.status.get("specSnapshot") or {}).get("version"),
            bool((ctx.project_obj.get("spec") or {}).get("archived")))


async def observe_generation(ctx: RunContext) -> None:
    """Acknowledge a spec change (say, spec.parallelism) without a phase change."""
    gen = generation(ctx)
    if gen is not None and gen != ctx.status.get("observedGeneration"):
        await set_status(ctx, observedGeneration=gen, conditions=phase_conditions(
            ctx.status.get("conditions"), gen, str(ctx.status.get("phase")),
            str(ctx.status.get("message") or "")))


async def update_summary(ctx: RunContext) -> None:
    summary = summary_of({t.id: t.phase for t in ctx.tasks.values()})
    if summary != ctx.status.get("tasksSummary"):
        await set_status(ctx, tasksSummary=summary)


async def event(ctx: RunContext, event_type: str, payload: dict[str, Any] | None = None,
                task: str | None = None, extra: str | int | None = None,
                key: str | None = None) -> None:
    await asyncio.to_thread(
        recorder.record, ctx.settings.database_url, namespace=ctx.ns,
        project=ctx.project, run=ctx.name, event_type=event_type, payload=payload,
        task=task, extra=extra, key=key)


async def k8s_event(obj: dict[str, Any], reason: str, message: str,
                    warning: bool = False) -> None:
    await asyncio.to_thread(kevents.post, obj, reason, message, warning=warning)


def phase_conditions(previous: list[dict[str, Any]] | None, generation: int | None,
                     phase: str, message: str) -> list[dict[str, Any]]:
    """Ready / Reconciling / Stalled for a Run phase."""
    reason = {"succeeded": "Succeeded", "failed": "Failed", "cancelled": "Cancelled"}.get(
        phase, phase.capitalize())
    return conditions.build(previous, generation, ready=phase == "succeeded",
                            reconciling=phase not in TERMINAL, stalled=phase == "failed",
                            reason=reason, message=message or phase)


def summary_of(phases: dict[str, str]) -> dict[str, int]:
    summary = {key: 0 for key in ("pending", "queued", "running", "succeeded", "failed",
                                  "cancelled")}
    for phase in phases.values():
        summary[phase] = summary.get(phase, 0) + 1
    return {"total": len(phases), **summary}
