"""decomposing: the planner's plan into status.plan, then one Task CR per planned task.

The plan is stored before any Task is created, so a restarted daemon re-creates
missing Tasks from the same plan instead of asking the planner again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prazium_kit import ids, journal, kube, resources
from prazium_operator.plan import PlanError, validate_plan
from prazium_operator.runflow.context import (
    RunContext,
    RunFailed,
    TaskState,
    agent,
    check,
    event,
    set_phase,
    set_status,
    summary_of,
)


async def decompose(ctx: RunContext) -> None:
    check(ctx)
    if not ctx.status.get("plan"):
        from prazium_operator.agents import AgentError, get_planner
        from prazium_operator.agents.registry import agent_options

        chosen = agent(ctx)
        planner = get_planner(chosen.get("planner") or "template", **agent_options(chosen))
        display = ctx.project_obj["spec"]["displayName"]
        documents = ctx.status["specSnapshot"]["documents"]
        try:
            plan = await asyncio.to_thread(planner.decompose, display, documents)
            validate_plan(plan)
        except PlanError as exc:
            raise RunFailed(f"the planner produced an invalid plan: {exc}") from exc
        except AgentError as exc:
            raise RunFailed(f"the planner failed: {exc}") from exc
        await set_status(ctx, plan=plan, tasksSummary=summary_of(
            {t["id"]: "pending" for t in plan["tasks"]}))
    plan = ctx.status["plan"]
    await event(ctx, journal.PLAN_CREATED, {
        "taskCount": len(plan["tasks"]), "mergeOrder": plan["mergeOrder"],
        "tasks": [{"taskId": ids.task_id(t["id"]), "slug": t["slug"],
                   "dependencies": [ids.task_id(d) for d in t.get("dependencies", [])]}
                  for t in plan["tasks"]]})
    await _create_tasks(ctx, plan)
    await set_phase(ctx, "executing")


async def _create_tasks(ctx: RunContext, plan: dict[str, Any]) -> None:
    for sequence, task in enumerate(plan["tasks"], start=1):
        name = ids.task_cr_name(ctx.name, task["id"])
        definition = {
            "id": task["id"], "slug": task["slug"],
            "description": (task.get("description") or task["slug"])[:2000],
            "instructions": (task.get("instructions") or "")[:50000],
            "dependencies": list(task.get("dependencies", [])),
            "pathScope": list(task["pathScope"]),
            "expectedOutputs": list(task.get("expectedOutputs", [])),
        }
        body = {
            "apiVersion": kube.API_VERSION, "kind": "Task",
            "metadata": {
                "name": name, "namespace": ctx.ns,
                "labels": {kube.LABEL_PROJECT: ctx.project, kube.LABEL_RUN: ctx.name,
                           kube.LABEL_MANAGED_BY: "prazium"},
                "ownerReferences": [kube.owner_reference(ctx.run)],
            },
            "spec": {"runRef": {"name": ctx.name}, "projectRef": {"name": ctx.project},
                     "sequence": sequence, "definition": definition},
        }
        created = await asyncio.to_thread(resources.create, ctx.ns, kube.TASKS, body)
        # Only the creator sets the initial status: an existing Task may be mid-flight.
        if created:
            await asyncio.to_thread(resources.patch_status, ctx.ns, kube.TASKS, name,
                                    {"phase": "pending", "attempts": 0})


async def load_tasks(ctx: RunContext) -> None:
    items = await asyncio.to_thread(resources.list_by_label, ctx.ns, kube.TASKS,
                                    f"{kube.LABEL_RUN}={ctx.name}")
    by_id = {item["spec"]["definition"]["id"]: item for item in items}
    plan_tasks = (ctx.status.get("plan") or {}).get("tasks", [])
    for task in plan_tasks:
        body = by_id.get(task["id"])
        if body is None:
            raise RunFailed(f"Task {ids.task_cr_name(ctx.name, task['id'])} is missing")
        ctx.tasks[task["id"]] = TaskState(definition=task, body=body)
