"""decomposing: the planner's plan into status.plan, then one Task CR per planned task.

A retry (spec.retryOf, spec.reuse not false) takes over the retried run's plan
instead of asking the planner (reuse.py): the same definitions are what lets its
finished tasks be reused.

The plan is stored before any Task is created, so a restarted daemon re-creates
missing Tasks from the same plan instead of asking the planner again. Once every
Task exists, status.plan is cut to its brief form (ids and slugs): each task's
full definition (dependencies too) lives in its Task's spec.definition, which keeps
`kubectl describe run` short.
"""

from __future__ import annotations

import asyncio

from prazium_kit import ids, journal, kube, resources
from prazium_kit.models import Plan, PlannedTask, TaskStatus, status_of, status_patch
from prazium_kit.plan import PlanError, validate_plan
from prazium_kit.types import Obj
from prazium_operator.reconcilers.run import reuse
from prazium_operator.reconcilers.run.context import (
    RunContext,
    RunFailed,
    TaskState,
    agent,
    apiserver,
    check,
    event,
    set_phase,
    set_status,
    spec_documents,
)
from prazium_operator.reconcilers.run.core import summary_of
from prazium_operator.status import task as task_status

# A Task is created with generation 1 (the apiserver starts every object there).
NEW_OBJECT_GENERATION = 1


async def decompose(ctx: RunContext) -> None:
    check(ctx)
    taken_from = None
    if not ctx.status.plan:
        written = await reuse.plan_to_take_over(ctx)
        if written is not None:
            taken_from = ctx.spec.retry_of
            try:
                validate_plan(written)
            except PlanError as exc:
                raise RunFailed(f"the plan of run {taken_from} is invalid: {exc}") from exc
        else:
            written = await _ask_planner(ctx)
        stored = Plan.model_validate(written)
        await set_status(
            ctx, plan=stored, tasks_summary=summary_of("pending" for _ in stored.tasks)
        )
    plan = ctx.status.plan
    assert plan is not None
    await event(
        ctx,
        journal.PLAN_CREATED,
        {
            **({"takenFrom": ids.run_id(taken_from)} if taken_from else {}),
            "taskCount": len(plan.tasks),
            "mergeOrder": plan.merge_order,
            "tasks": [
                {
                    "taskId": ids.task_id(t.id),
                    "slug": t.slug,
                    "dependencies": [ids.task_id(d) for d in t.dependencies],
                }
                for t in plan.tasks
            ],
        },
    )
    if not is_brief(plan):
        await _create_tasks(ctx, plan)
        await set_status(ctx, plan=brief(plan))
    await set_phase(ctx, "executing")


async def _ask_planner(ctx: RunContext) -> Obj:
    """The planner's plan for the run's spec snapshot, checked (validate_plan)."""
    from prazium_operator.agents import AgentError, get_planner
    from prazium_operator.agents.registry import agent_options

    chosen = agent(ctx)
    planner = get_planner(chosen.planner, **agent_options(chosen.as_spec()))
    assert ctx.project_spec is not None and ctx.status.spec_snapshot is not None
    display = ctx.project_spec.display_name
    documents = await spec_documents(ctx)
    try:
        written = await asyncio.to_thread(planner.decompose, display, documents)
        validate_plan(written)
    except PlanError as exc:
        raise RunFailed(f"the planner produced an invalid plan: {exc}") from exc
    except AgentError as exc:
        raise RunFailed(f"the planner failed: {exc}") from exc
    return dict(written)


def is_brief(plan: Plan) -> bool:
    """Whether the plan is the brief one (its Tasks hold the definitions): a planned
    task always has a pathScope, a brief one never."""
    return not any(task.path_scope for task in plan.tasks)


def brief(plan: Plan) -> Plan:
    """The plan as status keeps it once the Tasks exist."""
    return plan.model_copy(
        update={"tasks": [PlannedTask(id=t.id, slug=t.slug) for t in plan.tasks]}
    )


async def _create_tasks(ctx: RunContext, plan: Plan) -> None:
    for sequence, task in enumerate(plan.tasks, start=1):
        definition = {
            "id": task.id,
            "slug": task.slug,
            "description": (task.description or task.slug)[:2000],
            "instructions": (task.instructions or "")[:50000],
            "dependencies": list(task.dependencies),
            "pathScope": list(task.path_scope),
            "expectedOutputs": list(task.expected_outputs),
        }
        if task.test_command:  # the tests a coding agent must pass (agents/loop)
            definition["testCommand"] = list(task.test_command)
        await create_task(ctx, sequence, definition)


async def create_task(ctx: RunContext, sequence: int, definition: Obj) -> None:
    """The Task named by the run and the task id (idempotent), pending when new."""
    name = ids.task_cr_name(ctx.name, str(definition["id"]))
    body: Obj = {
        "apiVersion": kube.API_VERSION,
        "kind": "Task",
        "metadata": {
            "name": name,
            "namespace": ctx.ns,
            "labels": {
                kube.LABEL_PROJECT: ctx.project,
                kube.LABEL_RUN: ctx.name,
                kube.LABEL_MANAGED_BY: "prazium",
            },
            "ownerReferences": [kube.owner_reference(ctx.run)],
        },
        "spec": {
            "runRef": {"name": ctx.name},
            "projectRef": {"name": ctx.project},
            "sequence": sequence,
            "definition": definition,
        },
    }
    created = await apiserver(ctx, resources.create, ctx.ns, kube.TASKS, body)
    # Only the creator sets the initial status: an existing Task may be mid-flight.
    if created:
        status = TaskStatus(attempts=0)
        task_status.set_phase(status, "pending", "", NEW_OBJECT_GENERATION)
        await apiserver(
            ctx,
            resources.patch_status,
            ctx.ns,
            kube.TASKS,
            name,
            status_patch(status, "attempts", *task_status.PHASE_FIELDS),
        )


async def load_tasks(ctx: RunContext) -> None:
    items = await apiserver(
        ctx, resources.list_by_label, ctx.ns, kube.TASKS, f"{kube.LABEL_RUN}={ctx.name}"
    )
    by_id = {item["spec"]["definition"]["id"]: item for item in items}
    for task in ctx.status.plan.tasks if ctx.status.plan else []:
        body = by_id.get(task.id)
        if body is None:
            raise RunFailed(f"Task {ids.task_cr_name(ctx.name, task.id)} is missing")
        # The Task's own definition: what its worker is given (status.plan is brief).
        definition = PlannedTask.model_validate(body["spec"]["definition"])
        ctx.tasks[task.id] = TaskState(
            definition=definition, body=body, status=status_of(body, TaskStatus)
        )
