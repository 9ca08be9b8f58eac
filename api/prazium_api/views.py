"""Custom resources -> the contract's JSON shapes (ids per prazium_kit.ids)."""

from __future__ import annotations

from pathlib import Path

from prazium_kit import ids, models, paths
from prazium_kit.types import Obj

TERMINAL_RUN_PHASES = models.RUN_FINAL_PHASES
PROJECT_PHASES = models.PROJECT_PHASES
RUN_PHASES = models.RUN_PHASES
SUMMARY_KEYS = ("total", "pending", "queued", "running", "succeeded", "failed", "cancelled")


def updated_at(obj: Obj) -> str | None:
    """The last write to the object: the newest managedFields entry (kubectl or API)."""
    meta = obj.get("metadata", {})
    times = [entry.get("time") for entry in meta.get("managedFields") or [] if entry.get("time")]
    return max(times) if times else meta.get("creationTimestamp")


def project_phase(obj: Obj) -> str:
    if obj.get("spec", {}).get("archived"):
        return "archived"
    return str(obj.get("status", {}).get("phase") or "draft")


def repo_path(data_dir: Path, obj: Obj) -> str:
    """The project's repository relative to the repo volume: answers carry no host path."""
    meta = obj["metadata"]
    return paths.volume_relative(
        data_dir, paths.repo_path(data_dir, meta["namespace"], meta["name"])
    )


def volume_relative(value: str | None) -> str | None:
    """A path from a status as answers show it. Statuses hold volume-relative paths;
    one written before that (absolute) is cut to its part from the volume's top
    directory on (workspaces/..., repos/...), never shown whole."""
    if not value or not value.startswith("/"):
        return value
    parts = value.split("/")
    for top in ("workspaces", "repos", "results"):
        if top in parts:
            return "/".join(parts[parts.index(top) :])
    return None


def latest_run(obj: Obj) -> Obj | None:
    latest = obj.get("status", {}).get("latestRun")
    if not latest or not latest.get("name"):
        return None
    return {
        "id": ids.run_id(latest["name"]),
        "runNumber": latest.get("runNumber"),
        "status": latest.get("phase") or "pending",
    }


def project_summary(obj: Obj) -> Obj:
    meta, spec = obj["metadata"], obj.get("spec", {})
    return {
        "id": ids.project_id(meta["name"]),
        "name": spec.get("displayName"),
        "description": spec.get("description"),
        "status": project_phase(obj),
        "latestRun": latest_run(obj),
        "createdAt": meta.get("creationTimestamp"),
        "updatedAt": updated_at(obj),
    }


def spec_view(obj: Obj) -> Obj | None:
    spec = obj.get("status", {}).get("spec")
    if not spec or not spec.get("version"):
        return None
    return {
        "version": spec.get("version"),
        "documents": spec.get("documents") or {},
        "approvedAt": spec.get("approvedAt"),
    }


def project_detail(obj: Obj, data_dir: Path) -> Obj:
    status = obj.get("status", {})
    return {
        **project_summary(obj),
        "spec": spec_view(obj),
        "questions": status.get("questions"),
        "answers": obj.get("spec", {}).get("answers"),
        "repoPath": repo_path(data_dir, obj),
        "message": status.get("message"),
    }


def run_phase(obj: Obj) -> str:
    return str(obj.get("status", {}).get("phase") or "pending")


def tasks_summary(obj: Obj) -> Obj:
    summary = obj.get("status", {}).get("tasksSummary") or {}
    return {key: int(summary.get(key) or 0) for key in SUMMARY_KEYS}


def run_project(obj: Obj) -> str:
    return str(obj.get("spec", {}).get("projectRef", {}).get("name", ""))


def run_summary(obj: Obj) -> Obj:
    status = obj.get("status", {})
    return {
        "id": ids.run_id(obj["metadata"]["name"]),
        "projectId": ids.project_id(run_project(obj)),
        "runNumber": status.get("runNumber"),
        "status": run_phase(obj),
        "trigger": obj.get("spec", {}).get("trigger", "manual"),
        "tasksSummary": tasks_summary(obj),
        "startedAt": status.get("startedAt"),
        "completedAt": status.get("completedAt"),
        "createdAt": obj["metadata"].get("creationTimestamp"),
    }


def task_api_id(definition_id: str | None) -> str | None:
    if definition_id is None:
        return None
    try:
        return ids.task_id(definition_id)
    except ids.InvalidId:
        return definition_id


def reused_from(value: str | None) -> str | None:
    """status.reusedFrom (<run>/<task-NNN>) in API ids: run_<run>/task_NNN."""
    run, _, task = (value or "").partition("/")
    return f"{ids.run_id(run)}/{task_api_id(task)}" if run and task else None


def task_brief(obj: Obj) -> Obj:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    definition = spec.get("definition", {})
    brief = {
        "id": task_api_id(definition.get("id")),
        "slug": definition.get("slug"),
        "status": status.get("phase") or "pending",
        "sequence": spec.get("sequence"),
    }
    # Beyond the contract, only when they hold something: a repair round's task, and
    # a retry's task taken over from the retried run.
    if definition.get("role"):
        brief["role"] = definition["role"]
    source = reused_from(status.get("reusedFrom"))
    if source:
        brief["reusedFrom"] = source
    return brief


def task_detail(obj: Obj) -> Obj:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    definition = spec.get("definition", {})
    result = status.get("result")
    return {
        **task_brief(obj),
        "definition": {
            "id": definition.get("id"),
            "slug": definition.get("slug"),
            "description": definition.get("description"),
            "instructions": definition.get("instructions", ""),
            "dependencies": definition.get("dependencies", []),
            "pathScope": definition.get("pathScope", []),
            "expectedOutputs": definition.get("expectedOutputs", []),
            **({"role": definition["role"]} if definition.get("role") else {}),
        },
        "branchName": status.get("branchName"),
        "worktreePath": volume_relative(status.get("worktreePath")),
        "attempts": status.get("attempts", 0),
        "message": status.get("message"),
        "result": None
        if result is None
        else {
            "filesCreated": result.get("filesCreated", []),
            "filesModified": result.get("filesModified", []),
            "commitSha": result.get("commitSha"),
        },
        "startedAt": status.get("startedAt"),
        "completedAt": status.get("completedAt"),
    }


def planned_tasks(plan: Obj, tasks: list[Obj]) -> list[Obj]:
    """The plan's tasks with their full definitions: status.plan keeps them brief once
    the Tasks exist (each Task's spec.definition is the reference)."""
    definitions = {
        t.get("spec", {}).get("definition", {}).get("id"): t["spec"]["definition"] for t in tasks
    }
    return [definitions.get(task.get("id")) or task for task in plan.get("tasks", [])]


def run_detail(obj: Obj, tasks: list[Obj], snapshot: Obj | None = None) -> Obj:
    """snapshot: status.specSnapshot with its documents read from the repository."""
    status = obj.get("status", {})
    plan = status.get("plan")
    return {
        **run_summary(obj),
        "specSnapshot": snapshot if snapshot is not None else status.get("specSnapshot"),
        "tasksJson": None
        if not plan
        else {
            "tasks": planned_tasks(plan, tasks),
            "mergeOrder": plan.get("mergeOrder", []),
            "verifyCommand": plan.get("verifyCommand"),
        },
        "tasks": [task_brief(task) for task in tasks],
        "verificationResult": status.get("verificationResult"),
        "mergedCommit": status.get("mergedCommit"),
        "message": status.get("message"),
    }
