"""Drives one Run from pending to succeeded / failed / cancelled.

A kopf daemon (handlers/run.py) runs :meth:`RunDriver.drive` per Run; it is
started again after an operator restart and picks up from status, so every
step checks what is already done (natural keys everywhere):

    pending      run number (optimistic concurrency), approval check, spec snapshot,
                 the project's build slot (one active run per project)
    decomposing  planner.decompose + validate_plan -> status.plan, Task CRs
    executing    DAG scheduling: a task starts when its dependencies succeeded, on a
                 branch whose base holds their work, up to spec.parallelism
    merging      branches merged into main in mergeOrder (compare-and-swap on main)
    verifying    the plan's verifyCommand in a clean checkout of the merged commit

The final journal event is written after the final status is stored.

status.observedGeneration follows metadata.generation (kstatus): the driver
reads the live spec (spec.cancel, spec.parallelism) on every step, so each
status write records the generation it acted on, and a spec change while a run
executes is acknowledged within a scheduling round. A finished Run's later spec
changes are acknowledged by handlers/run.py (observe_finished_run).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf

from prazium_operator import (
    conditions,
    gitrepo,
    ids,
    journal,
    kevents,
    kube,
    models,
    paths,
    projectstate,
    recorder,
    resources,
    verify,
)
from prazium_operator.executor.base import Executor, WorkerState
from prazium_operator.plan import PlanError, validate_plan
from prazium_operator.settings import Settings
from prazium_operator.worker.request import WorkerRequest, read_result

log = logging.getLogger(__name__)

TERMINAL = projectstate.TERMINAL_RUN_PHASES
POLL_SECONDS = 0.2
WAIT_FOR_SLOT_SECONDS = 0.5
MAX_ATTEMPTS = 3
TASK_TERMINAL = models.TASK_FINAL_PHASES


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


class RunDriver:
    def __init__(self, namespace: str, name: str, body: kopf.Body, executor: Executor,
                 settings: Settings, stopped: kopf.DaemonStopped) -> None:
        self.ns = namespace
        self.name = name
        self.live = body  # kopf keeps it current: spec.cancel arrives here
        self.executor = executor
        self.settings = settings
        self.stopped = stopped
        self.run: dict[str, Any] = {}
        self.status: dict[str, Any] = {}
        self.project_obj: dict[str, Any] = {}
        self.tasks: dict[str, TaskState] = {}
        self.observed: int | None = None

    # ------------------------------------------------------------------ entry

    @property
    def project(self) -> str:
        return str(self.run["spec"]["projectRef"]["name"])

    @property
    def repo(self) -> Path:
        return paths.repo_path(self.settings.data_dir, self.ns, self.project)

    async def drive(self) -> None:
        run = await asyncio.to_thread(resources.get, self.ns, kube.RUNS, self.name)
        if run is None:
            return
        self.run = run
        self.status = dict(run.get("status") or {})
        if self.status.get("phase") in TERMINAL:
            await self._after_final()
            return
        try:
            await self._ensure_identity()
            if self.status.get("phase", "pending") == "pending":
                await self._admit()
                await self._start()
            await self._load_project()
            if self.status["phase"] == "decomposing":
                await self._decompose()
            await self._load_tasks()
            if self.status["phase"] == "executing":
                await self._execute()
            if self.status["phase"] == "merging":
                await self._merge()
            if self.status["phase"] == "verifying":
                await self._verify()
            await self._finish("succeeded", "built and verified")
        except RunFailed as exc:
            await self._stop_running_tasks()
            await self._finish("failed", str(exc))
        except RunCancelled:
            await self._cancel()
        except Stopped:
            if self.stopped.reason and kopf.DaemonStoppingReason.RESOURCE_DELETED in \
                    self.stopped.reason:
                await self._stop_running_tasks()
                # Also any Job the operator no longer remembers (by label); the Run's
                # delete handler does the same, so either one is enough.
                await self.executor.release_run(self.ns, self.name)

    # --------------------------------------------------------------- helpers

    def _check(self, *, cancellable: bool = True) -> None:
        if self.stopped:
            raise Stopped()
        live = (self.live.get("metadata") or {}).get("generation")
        if live is not None:
            self.observed = int(live)  # from here on, this generation's spec is acted on
        if cancellable and (self.live.get("spec") or {}).get("cancel"):
            raise RunCancelled()

    async def _sleep(self, seconds: float) -> None:
        await self.stopped.wait(seconds)

    async def _set_status(self, **fields: Any) -> None:
        self.status.update(fields)
        await asyncio.to_thread(resources.patch_status, self.ns, kube.RUNS, self.name, fields)

    def _generation(self) -> int | None:
        """The generation of the spec last acted on (the live spec, read by _check)."""
        return self.observed or self.run["metadata"].get("generation")

    def _spec(self) -> dict[str, Any]:
        return dict(self.live.get("spec") or self.run.get("spec") or {})

    async def _set_phase(self, phase: str, message: str = "") -> None:
        generation = self._generation()
        await self._set_status(phase=phase, message=message, observedGeneration=generation,
                               conditions=phase_conditions(self.status.get("conditions"),
                                                           generation, phase, message))
        if self.status.get("runNumber"):
            await asyncio.to_thread(
                projectstate.record_latest_run, self.ns, self.project, self.name,
                int(self.status["runNumber"]), phase,
                (self.status.get("specSnapshot") or {}).get("version"),
                bool((self.project_obj.get("spec") or {}).get("archived")))

    async def _event(self, event_type: str, payload: dict[str, Any] | None = None,
                     task: str | None = None, extra: str | int | None = None,
                     key: str | None = None) -> None:
        await asyncio.to_thread(
            recorder.record, self.settings.database_url, namespace=self.ns,
            project=self.project, run=self.name, event_type=event_type, payload=payload,
            task=task, extra=extra, key=key)

    async def _k8s_event(self, obj: dict[str, Any], reason: str, message: str,
                         warning: bool = False) -> None:
        await asyncio.to_thread(kevents.post, obj, reason, message, warning=warning)

    # ------------------------------------------------------------- pending

    async def _ensure_identity(self) -> None:
        labels = self.run["metadata"].get("labels") or {}
        project = await asyncio.to_thread(resources.get, self.ns, kube.PROJECTS, self.project)
        owners = self.run["metadata"].get("ownerReferences") or []
        meta: dict[str, Any] = {}
        if labels.get(kube.LABEL_PROJECT) != self.project:
            meta["labels"] = {kube.LABEL_PROJECT: self.project}
        if project and not any(o.get("uid") == project["metadata"]["uid"] for o in owners):
            meta["ownerReferences"] = [*owners, kube.owner_reference(project, controller=False)]
        if meta:
            await asyncio.to_thread(resources.patch_meta, self.ns, kube.RUNS, self.name, meta)
        if project is None:
            raise RunFailed(f"project {self.project!r} does not exist in namespace {self.ns!r}")
        self.project_obj = project
        if not self.status.get("runNumber"):
            number = await asyncio.to_thread(
                projectstate.allocate_run_number, self.ns, self.project)
            await self._set_status(runNumber=number)
            await self._set_phase("pending", "admitting")

    async def _admit(self) -> None:
        self._check()
        project = self.project_obj
        if (project.get("spec") or {}).get("archived"):
            raise RunFailed(f"project {self.project!r} is archived; it accepts no new runs")
        if not self.status.get("specSnapshot"):
            await self._set_status(specSnapshot=await self._snapshot(project))
        waiting_on = None
        while True:
            self._check()
            holder = await asyncio.to_thread(
                projectstate.try_acquire_slot, self.ns, self.project, self.name,
                self._run_is_active)
            if holder is None:
                return
            if holder != waiting_on:
                waiting_on = holder
                await self._set_phase(
                    "pending", f"waiting for run {holder} to finish: a project builds one run"
                    " at a time")
            await self._sleep(WAIT_FOR_SLOT_SECONDS)

    def _run_is_active(self, other: str) -> bool:
        obj = resources.get(self.ns, kube.RUNS, other)
        return obj is not None and (obj.get("status") or {}).get("phase") not in TERMINAL

    async def _snapshot(self, project: dict[str, Any]) -> dict[str, Any]:
        retry_of = self.run["spec"].get("retryOf")
        if retry_of:
            old = await asyncio.to_thread(resources.get, self.ns, kube.RUNS, retry_of)
            snapshot = ((old or {}).get("status") or {}).get("specSnapshot")
            if not snapshot:
                raise RunFailed(f"retryOf names run {retry_of!r}, which has no spec snapshot")
            return dict(snapshot)
        spec_state = (project.get("status") or {}).get("spec") or {}
        version = spec_state.get("version")
        if not version or spec_state.get("approvedVersion") != version:
            phase = (project.get("status") or {}).get("phase", "draft")
            raise RunFailed(
                f"project {self.project!r} has no approved spec (phase {phase}); approve spec"
                f" version {version or '(none yet)'} with spec.approval.specVersion first")
        return {"version": version, "documents": dict(spec_state.get("documents") or {})}

    async def _start(self) -> None:
        main = await asyncio.to_thread(gitrepo.rev_parse, self.repo, gitrepo.MAIN)
        if main is None:
            raise RunFailed(f"project {self.project!r} has no repository yet")
        await self._set_status(startedAt=self.status.get("startedAt") or conditions.now_iso(),
                               baseCommit=self.status.get("baseCommit") or main)
        await self._set_phase("decomposing")
        await self._event(journal.RUN_STARTED, {
            "runId": ids.run_id(self.name), "runNumber": self.status["runNumber"],
            "trigger": self.run["spec"].get("trigger", "manual"),
            "specVersion": self.status["specSnapshot"].get("version")})
        await self._k8s_event(self.run, "RunStarted",
                              f"run #{self.status['runNumber']} of {self.project} started")

    async def _load_project(self) -> None:
        if not self.project_obj:
            project = await asyncio.to_thread(resources.get, self.ns, kube.PROJECTS,
                                              self.project)
            if project is None:
                raise RunFailed(f"project {self.project!r} no longer exists")
            self.project_obj = project

    # ----------------------------------------------------------- decomposing

    def _agent(self) -> dict[str, Any]:
        merged = dict((self.project_obj.get("spec") or {}).get("agent") or {})
        merged.update({k: v for k, v in (self.run["spec"].get("agent") or {}).items() if v})
        return merged

    async def _decompose(self) -> None:
        self._check()
        if not self.status.get("plan"):
            from prazium_operator.agents import get_planner

            planner = get_planner(self._agent().get("planner") or "template")
            display = self.project_obj["spec"]["displayName"]
            documents = self.status["specSnapshot"]["documents"]
            try:
                plan = await asyncio.to_thread(planner.decompose, display, documents)
                validate_plan(plan)
            except PlanError as exc:
                raise RunFailed(f"the planner produced an invalid plan: {exc}") from exc
            await self._set_status(plan=plan, tasksSummary=_summary_of(
                {t["id"]: "pending" for t in plan["tasks"]}))
        plan = self.status["plan"]
        await self._event(journal.PLAN_CREATED, {
            "taskCount": len(plan["tasks"]), "mergeOrder": plan["mergeOrder"],
            "tasks": [{"taskId": ids.task_id(t["id"]), "slug": t["slug"],
                       "dependencies": [ids.task_id(d) for d in t.get("dependencies", [])]}
                      for t in plan["tasks"]]})
        await self._create_tasks(plan)
        await self._set_phase("executing")

    async def _create_tasks(self, plan: dict[str, Any]) -> None:
        for sequence, task in enumerate(plan["tasks"], start=1):
            name = ids.task_cr_name(self.name, task["id"])
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
                    "name": name, "namespace": self.ns,
                    "labels": {kube.LABEL_PROJECT: self.project, kube.LABEL_RUN: self.name,
                               kube.LABEL_MANAGED_BY: "prazium"},
                    "ownerReferences": [kube.owner_reference(self.run)],
                },
                "spec": {"runRef": {"name": self.name}, "projectRef": {"name": self.project},
                         "sequence": sequence, "definition": definition},
            }
            created = await asyncio.to_thread(resources.create, self.ns, kube.TASKS, body)
            if created:
                await asyncio.to_thread(resources.patch_status, self.ns, kube.TASKS, name,
                                        {"phase": "pending", "attempts": 0})

    async def _load_tasks(self) -> None:
        items = await asyncio.to_thread(resources.list_by_label, self.ns, kube.TASKS,
                                        f"{kube.LABEL_RUN}={self.name}")
        by_id = {item["spec"]["definition"]["id"]: item for item in items}
        plan_tasks = (self.status.get("plan") or {}).get("tasks", [])
        for task in plan_tasks:
            body = by_id.get(task["id"])
            if body is None:
                raise RunFailed(f"Task {ids.task_cr_name(self.name, task['id'])} is missing")
            self.tasks[task["id"]] = TaskState(definition=task, body=body)

    # ------------------------------------------------------------- executing

    async def _execute(self) -> None:
        while True:
            self._check()
            parallelism = int(self._spec().get("parallelism") or 3)
            await self._observe_generation()
            for task in self._in_phase("running"):
                await self._poll(task)
            await self._update_summary()
            failed = self._in_phase("failed")
            running = self._in_phase("running")
            if failed:
                if running:
                    await self._sleep(POLL_SECONDS)  # let started siblings finish cleanly
                    continue
                first = failed[0]
                for task in self._in_phase("pending", "queued"):
                    await self._cancel_task(task, f"not started: {first.id} failed")
                await self._update_summary()
                raise RunFailed(f"task {first.id} ({first.definition['slug']}) failed: "
                                f"{first.status.get('message', '')}")
            if all(t.phase == "succeeded" for t in self.tasks.values()):
                break
            ready = [t for t in self._in_phase("pending", "queued") if self._deps_done(t)]
            for task in ready:
                if task.phase == "pending":
                    await self._set_task(task, phase="queued", message="dependencies done")
                    await self._event(journal.TASK_QUEUED, {"taskId": ids.task_id(task.id),
                                      "slug": task.definition["slug"]}, task=task.id)
            for task in ready[: max(parallelism - len(running), 0)]:
                if not self.executor.has_capacity():
                    break
                await self._start_task(task, int(task.status.get("attempts") or 0) + 1)
            await self._update_summary()
            await self.executor.wait_for_exit(POLL_SECONDS)
        await self._set_phase("merging")

    def _in_phase(self, *phases: str) -> list[TaskState]:
        return [t for t in self.tasks.values() if t.phase in phases]

    def _deps_done(self, task: TaskState) -> bool:
        return all(self.tasks[dep].phase == "succeeded"
                   for dep in task.definition.get("dependencies", []))

    async def _set_task(self, task: TaskState, **fields: Any) -> None:
        task.status.update(fields)
        await asyncio.to_thread(resources.patch_status, self.ns, kube.TASKS, task.name, fields)

    async def _observe_generation(self) -> None:
        """Acknowledge a spec change (say, spec.parallelism) without a phase change."""
        generation = self._generation()
        if generation is not None and generation != self.status.get("observedGeneration"):
            await self._set_status(observedGeneration=generation, conditions=phase_conditions(
                self.status.get("conditions"), generation, str(self.status.get("phase")),
                str(self.status.get("message") or "")))

    async def _update_summary(self) -> None:
        summary = _summary_of({t.id: t.phase for t in self.tasks.values()})
        if summary != self.status.get("tasksSummary"):
            await self._set_status(tasksSummary=summary)

    def _request(self, task: TaskState, attempt: int, base: str) -> WorkerRequest:
        data_dir = self.settings.data_dir
        agent = self._agent()
        coder = agent.get("coder") or "template"
        options = {"command": agent["command"]} if coder == "command" and agent.get("command") \
            else {}
        return WorkerRequest(
            namespace=self.ns, project=self.project, run=self.name, task=task.definition,
            documents=self.status["specSnapshot"]["documents"], repo_path=str(self.repo),
            worktree=str(paths.task_worktree(data_dir, self.ns, self.project, self.name,
                                             task.id)),
            branch=ids.branch_name(int(self.status["runNumber"]), task.id,
                                   task.definition["slug"]),
            base_commit=base, attempt=attempt,
            result_path=str(paths.result_path(data_dir, self.ns, self.name, task.id, attempt)),
            coder=coder, coder_options=options,
            credentials_secret=agent.get("credentialsSecret") or None,
        )

    async def _task_base(self, task: TaskState) -> str:
        """main at run start, merged with the commits of the task's dependencies."""
        base = str(self.status["baseCommit"])
        for dep in task.definition.get("dependencies", []):
            dep_commit = str(self.tasks[dep].status["result"]["commitSha"])
            outcome = await asyncio.to_thread(
                gitrepo.merge, self.repo, base, dep_commit,
                f"Base for {task.id}: merge {dep}", str(self.status["startedAt"]))
            if outcome.commit is None:
                raise RunFailed(f"the dependencies of {task.id} conflict on "
                                f"{', '.join(outcome.conflicts)}")
            base = outcome.commit
        return base

    async def _start_task(self, task: TaskState, attempt: int) -> None:
        base = await self._task_base(task)
        request = self._request(task, attempt, base)
        # Recorded before the worker starts, so a restarted operator knows which
        # attempt (and result file) to look for.
        await self._set_task(
            task, phase="running", attempts=attempt, branchName=request.branch,
            worktreePath=request.worktree, baseCommit=base, message=f"attempt {attempt}",
            startedAt=task.status.get("startedAt") or conditions.now_iso(),
            executor={"kind": self.executor.kind})
        ref = await self.executor.start(request, task.body)
        await self._set_task(task, executor=ref)
        await self._k8s_event(task.body, "Started",
                              f"attempt {attempt} on {request.branch} ({ref})")

    async def _poll(self, task: TaskState) -> None:
        attempt = int(task.status.get("attempts") or 1)
        request = self._request(task, attempt, str(task.status.get("baseCommit")))
        ref = task.status.get("executor") or {}
        state = await self.executor.state(ref, request)
        if state is WorkerState.RUNNING:
            return
        result = read_result(Path(request.result_path)) if state is WorkerState.EXITED else None
        # The result is on the shared volume now (or there is none): the worker's Job,
        # if any, has nothing more to tell. A retry is a new Job (attempt + 1).
        await self.executor.release(ref, request)
        if result is None:
            if attempt < MAX_ATTEMPTS:
                log.warning("worker of %s attempt %s lost; retrying", task.name, attempt)
                await self._start_task(task, attempt + 1)
            else:
                await self._fail_task(task, f"the worker exited without a result {attempt}"
                                      " times")
            return
        if result.get("status") == "succeeded":
            await self._complete_task(task, result)
        else:
            await self._fail_task(task, str(result.get("error") or "the worker failed"))

    async def _complete_task(self, task: TaskState, result: dict[str, Any]) -> None:
        outcome = {"filesCreated": result.get("filesCreated", []),
                   "filesModified": result.get("filesModified", []),
                   "commitSha": result["commitSha"]}
        await self._set_task(task, phase="succeeded", result=outcome,
                             completedAt=conditions.now_iso(), message="")
        await self._event(journal.TASK_COMPLETED, {
            "taskId": ids.task_id(task.id), "status": "succeeded", "slug":
            task.definition["slug"], "commitSha": outcome["commitSha"],
            "filesCreated": len(outcome["filesCreated"]),
            "filesModified": len(outcome["filesModified"]),
            "durationSeconds": result.get("durationSeconds")}, task=task.id)
        await self._k8s_event(task.body, "Succeeded", f"commit {outcome['commitSha'][:12]}")

    async def _fail_task(self, task: TaskState, message: str) -> None:
        await self._set_task(task, phase="failed", message=message,
                             completedAt=conditions.now_iso())
        await self._event(journal.TASK_FAILED, {"taskId": ids.task_id(task.id),
                                                "status": "failed", "error": message},
                          task=task.id)
        await self._k8s_event(task.body, "Failed", message, warning=True)

    async def _cancel_task(self, task: TaskState, message: str) -> None:
        await self._set_task(task, phase="cancelled", message=message,
                             completedAt=conditions.now_iso())
        await self._event(journal.TASK_CANCELLED, {"taskId": ids.task_id(task.id),
                                                   "status": "cancelled", "reason": message},
                          task=task.id)

    async def _stop_running_tasks(self) -> None:
        for task in self._in_phase("running"):
            attempt = int(task.status.get("attempts") or 1)
            request = self._request(task, attempt, str(task.status.get("baseCommit")))
            await self.executor.stop(task.status.get("executor") or {}, request)

    # --------------------------------------------------------------- merging

    async def _merge(self) -> None:
        self._check()
        plan = self.status["plan"]
        await self._event(journal.MERGE_STARTED, {"mergeOrder": plan["mergeOrder"]})
        await self._k8s_event(self.run, "Merging", "merging task branches into main")
        merged = None
        for _ in range(10):
            main = await asyncio.to_thread(gitrepo.rev_parse, self.repo, gitrepo.MAIN)
            assert main is not None
            current = main
            for task_id in plan["mergeOrder"]:
                task = self.tasks[task_id]
                commit = task.status["result"]["commitSha"]
                outcome = await asyncio.to_thread(
                    gitrepo.merge, self.repo, current, commit,
                    f"Merge {task_id} {task.definition['slug']} (run {self.status['runNumber']})",
                    str(self.status["startedAt"]))
                if outcome.commit is None:
                    await self._event(journal.MERGE_CONFLICT, {
                        "taskId": ids.task_id(task_id), "paths": outcome.conflicts},
                        task=task_id)
                    raise RunFailed(f"merging {task_id} ({task.definition['slug']}) into main"
                                    f" conflicts on: {', '.join(outcome.conflicts)}")
                current = outcome.commit
            self._check()  # last point where cancel leaves main untouched
            if current != main:
                try:
                    await asyncio.to_thread(gitrepo.update_ref, self.repo, gitrepo.MAIN,
                                            current, main)
                except gitrepo.GitError:
                    continue  # main moved (a spec approval landed): merge again on top
            merged = current
            break
        if merged is None:
            raise RunFailed("main kept moving while merging")
        await self._set_status(mergedCommit=merged)
        await self._event(journal.MERGE_COMPLETED, {"mergedCommit": merged})
        await self._set_phase("verifying")

    # ------------------------------------------------------------- verifying

    async def _verify(self) -> None:
        self._check()
        command = list(self.status["plan"].get("verifyCommand") or [])
        if not command:
            await self._set_status(verificationResult=None)
            return
        await self._event(journal.VERIFICATION_STARTED, {"command": command})
        workdir = paths.task_worktree(self.settings.data_dir, self.ns, self.project, self.name,
                                      "verify")
        result = await verify.verify(self.repo, self.status["mergedCommit"], command, workdir,
                                     self.settings.verify_timeout_seconds)
        await self._set_status(verificationResult=result)
        await self._event(journal.VERIFICATION_COMPLETED, {
            key: result[key] for key in ("exitCode", "passed", "failed", "summary",
                                         "durationSeconds")})
        if result["exitCode"] != 0:
            raise RunFailed(f"verification failed: {result['summary']}")

    # ------------------------------------------------------------ the end

    async def _cancel(self) -> None:
        await self._stop_running_tasks()
        for task in self._in_phase("pending", "queued", "running"):
            await self._cancel_task(task, "cancelled with the run")
        await self._finish("cancelled", "cancelled by request (spec.cancel)")

    async def _finish(self, phase: str, message: str) -> None:
        if self.tasks:
            await self._update_summary()
        # Before the final status: whoever sees the run finished sees no worktree left.
        await asyncio.to_thread(self._remove_worktrees)
        await self._set_status(completedAt=conditions.now_iso())
        await self._set_phase(phase, message)
        await self._k8s_event(self.run, {"succeeded": "RunSucceeded", "failed": "RunFailed",
                                         "cancelled": "RunCancelled"}[phase], message,
                              warning=phase != "succeeded")
        await self._after_final()

    async def _after_final(self) -> None:
        """Idempotent tail of a finished run: slot, worktrees, then the final event."""
        phase = self.status["phase"]
        if self.status.get("runNumber"):
            project = await asyncio.to_thread(resources.get, self.ns, kube.PROJECTS,
                                              self.project)
            await asyncio.to_thread(
                projectstate.record_latest_run, self.ns, self.project, self.name,
                int(self.status["runNumber"]), phase,
                (self.status.get("specSnapshot") or {}).get("version"),
                bool(((project or {}).get("spec") or {}).get("archived")))
        await asyncio.to_thread(projectstate.release_slot, self.ns, self.project, self.name)
        await asyncio.to_thread(self._remove_worktrees)
        final = {"succeeded": journal.RUN_COMPLETED, "failed": journal.RUN_FAILED,
                 "cancelled": journal.RUN_CANCELLED}[phase]
        await self._event(final, {
            "status": phase, "message": self.status.get("message", ""),
            "runNumber": self.status.get("runNumber"),
            "mergedCommit": self.status.get("mergedCommit")},
            key=recorder.dedup_key(self.ns, self.name, None, "RUN_FINAL"))

    def _remove_worktrees(self) -> None:
        run_dir = paths.project_workspace(self.settings.data_dir, self.ns, self.project) \
            / self.name
        if not self.repo.exists():
            return
        if run_dir.exists():
            for worktree in sorted(run_dir.iterdir()):
                gitrepo.remove_worktree(self.repo, worktree)
            run_dir.rmdir() if not any(run_dir.iterdir()) else None
        gitrepo.git("worktree", "prune", cwd=self.repo, check=False)


def phase_conditions(previous: list[dict[str, Any]] | None, generation: int | None,
                     phase: str, message: str) -> list[dict[str, Any]]:
    """Ready / Reconciling / Stalled for a Run phase."""
    reason = {"succeeded": "Succeeded", "failed": "Failed", "cancelled": "Cancelled"}.get(
        phase, phase.capitalize())
    return conditions.build(previous, generation, ready=phase == "succeeded",
                            reconciling=phase not in TERMINAL, stalled=phase == "failed",
                            reason=reason, message=message or phase)


def _summary_of(phases: dict[str, str]) -> dict[str, int]:
    summary = {key: 0 for key in ("pending", "queued", "running", "succeeded", "failed",
                                  "cancelled")}
    for phase in phases.values():
        summary[phase] = summary.get(phase, 0) + 1
    return {"total": len(phases), **summary}
