"""What a command acts on, from what was typed: positional arguments sorted out by
their ids' prefixes (so any of them can be left out), the current project when no
project is given, the latest run when no run is given, and a task by its id, its
number or its slug (as `run watch` shows them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from prazium_cli.client import Api
from prazium_cli.errors import CliError

# The API's ids carry their kind up to the first "_" (proj_..., run_..., dep_...);
# task slugs, file paths and directories are the free-form arguments.
PREFIXES = {"project": "proj_", "run": "run_", "deployment": "dep_"}
_TASK_NUMBER = re.compile(r"^(?:task[_-])?0*(\d{1,3})$")


def place(values: Sequence[str | None], slots: Sequence[str]) -> dict[str, str | None]:
    """The positional values given, each in its slot: an id in the slot of its kind
    (by prefix), anything else in the first free-form slot left (task, path...),
    and what fits nowhere in the first empty slot, for the API to judge.

    `run logs proj_a api-orders` is {"project": "proj_a", "run": None, "task":
    "api-orders"}: the run left out is the latest."""
    placed: dict[str, str | None] = dict.fromkeys(slots)
    free = [slot for slot in slots if slot not in PREFIXES]
    for value in values:
        if value is None:
            continue
        slot = next(
            (
                s
                for s in slots
                if s in PREFIXES and placed[s] is None and value.startswith(PREFIXES[s])
            ),
            None,
        )
        slot = slot or next((s for s in free if placed[s] is None), None)
        slot = slot or next((s for s in slots if placed[s] is None), None)
        if slot is None:
            expected = " ".join(f"[{s.upper()}]" for s in slots)
            raise CliError(
                "VALIDATION_ERROR", f"unexpected argument {value!r}: expected {expected}"
            )
        placed[slot] = value
    return placed


def project(client: Api, given: str | None) -> str:
    """The project given, else the current one (PRAZIUM_PROJECT, `prazium projects use`)."""
    chosen = given or client.config.project
    if not chosen:
        raise CliError(
            "VALIDATION_ERROR",
            "no project given: pass its id (proj_...), or choose a current project with"
            " `prazium projects use PROJECT` (or PRAZIUM_PROJECT)",
        )
    return chosen


def latest_run(client: Api, project_id: str, status: str | None = None) -> str:
    """The run with the highest number (of those in `status`)."""
    params: dict[str, Any] = {"pageSize": 100}
    if status:
        params["status"] = status
    runs = client.data("GET", f"/projects/{project_id}/runs", params=params) or []
    if not runs:
        what = f"{status} run" if status else "run"
        raise CliError(
            "NOT_FOUND", f"project {project_id} has no {what} yet", {"projectId": project_id}
        )
    return str(max(runs, key=lambda r: r.get("runNumber") or 0)["id"])


def run(client: Api, project_id: str, given: str | None, status: str | None = None) -> str:
    return given or latest_run(client, project_id, status)


def match_task(tasks: Sequence[dict[str, Any]], given: str) -> str | None:
    """The API id of the task `given` names: its id (task_003), its plan id (task-003),
    its number (3, 003) or its slug (api-orders, any case); None if none does."""
    text = given.strip()
    for task in tasks:
        if text == task.get("id"):
            return str(task["id"])
    number = _TASK_NUMBER.match(text.lower())
    if number:
        wanted = int(number.group(1))
        for task in tasks:
            own = _TASK_NUMBER.match(str(task.get("id") or ""))
            if own and int(own.group(1)) == wanted:
                return str(task["id"])
    for task in tasks:
        if text.lower() == str(task.get("slug") or "").lower():
            return str(task["id"])
    return None


def task(client: Api, project_id: str, run_id: str, given: str) -> str:
    """The task's API id; NOT_FOUND (with the run's tasks) when nothing matches."""
    found = client.data("GET", f"/projects/{project_id}/runs/{run_id}")
    tasks = found.get("tasks") or []
    task_id = match_task(tasks, given)
    if task_id is None:
        known = ", ".join(f"{t.get('id')} ({t.get('slug')})" for t in tasks) or "none yet"
        raise CliError(
            "NOT_FOUND",
            f"run {run_id} has no task {given!r}; its tasks: {known}",
            {"runId": run_id, "task": given},
        )
    return task_id
