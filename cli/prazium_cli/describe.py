"""`prazium run describe`: one run in full, as `tkn pipelinerun describe` shows one:
its status and times, the phases it went through (from its events, to the
millisecond), each task with status, attempts and duration, the verification and
the merged commit."""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from prazium_cli import timing
from prazium_cli.client import Api
from prazium_cli.output import Column, Format, Listing, styled
from prazium_cli.usage import tokens_cell, usage_text

EVENTS_PAGE = 1000  # the API's largest page of events
# The event that starts each phase of a run; a phase lasts until the next one starts
# or the run ends.
PHASE_STARTS = {
    "RUN_STARTED": "decomposing",
    "PLAN_CREATED": "executing",
    "MERGE_STARTED": "merging",
    "VERIFICATION_STARTED": "verifying",
}
RUN_ENDS = frozenset({"RUN_COMPLETED", "RUN_FAILED", "RUN_CANCELLED"})
TASK_ENDS = frozenset({"TASK_COMPLETED", "TASK_FAILED", "TASK_CANCELLED"})
# Left out of describe's document: the spec (`prazium spec show`) and the plan,
# whose tasks are listed in full.
_LEFT_OUT = ("specSnapshot", "tasksJson", "tasks")


def read_events(client: Api, run_path: str) -> list[dict[str, Any]]:
    """Every event of the run, oldest first, a page at a time."""
    events: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {"limit": EVENTS_PAGE}
        if events:
            params["afterId"] = events[-1]["id"]
        page = client.data("GET", f"{run_path}/events", params=params) or []
        events.extend(page)
        if len(page) < EVENTS_PAGE:
            return events


def phases(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's phases from its events: name, start, end (None while it lasts)."""
    found: list[dict[str, Any]] = []
    for event in events:
        kind, at = event.get("eventType"), event.get("createdAt")
        ends_previous = kind in PHASE_STARTS or kind in RUN_ENDS
        if ends_previous and found and found[-1]["completedAt"] is None:
            found[-1]["completedAt"] = at
        if kind in PHASE_STARTS:
            found.append({"phase": PHASE_STARTS[kind], "startedAt": at, "completedAt": None})
    for phase in found:
        phase["durationSeconds"] = timing.seconds_between(phase["startedAt"], phase["completedAt"])
    return found


def task_times(events: list[dict[str, Any]]) -> dict[str, tuple[str, str | None]]:
    """Each task's first start and last end (over all its attempts), from events:
    to the millisecond, where the tasks' own times are whole seconds."""
    times: dict[str, tuple[str, str | None]] = {}
    for event in events:
        task_id, kind, at = event.get("taskId"), event.get("eventType"), event.get("createdAt")
        if not task_id or not at:
            continue
        if kind == "TASK_STARTED" and task_id not in times:
            times[task_id] = (at, None)
        elif kind in TASK_ENDS and task_id in times:
            times[task_id] = (times[task_id][0], at)
    return times


def run_seconds(run: dict[str, Any], events: list[dict[str, Any]]) -> float | None:
    """How long the run took: from its first event to the event that ended it, to
    the millisecond like its phases (which then always fit in it); the run's own
    whole-second times when its events do not show its end."""
    ended = next(
        (e.get("createdAt") for e in reversed(events) if e.get("eventType") in RUN_ENDS), None
    )
    if events and ended:
        return timing.seconds_between(events[0].get("createdAt"), ended)
    return timing.seconds_between(run.get("startedAt"), run.get("completedAt"))


def document(
    run: dict[str, Any], tasks: list[dict[str, Any]], events: list[dict[str, Any]]
) -> dict[str, Any]:
    """What describe shows (and prints with -o json/yaml): the run as the API gives
    it, with durations, its phases and its tasks in full. startOffsetSeconds: when
    a phase or task started, counted from the run's first event (the run's own
    times are whole seconds)."""
    origin = events[0].get("createdAt") if events else run.get("startedAt")
    precise = task_times(events)
    described = []
    for task in tasks:
        started, completed = precise.get(
            str(task.get("id")), (task.get("startedAt"), task.get("completedAt"))
        )
        described.append(
            {
                **task,
                "durationSeconds": timing.seconds_between(started, completed),
                "startOffsetSeconds": timing.seconds_between(origin, started),
            }
        )
    found = phases(events)
    for phase in found:
        phase["startOffsetSeconds"] = timing.seconds_between(origin, phase["startedAt"])
    return {
        **{k: v for k, v in run.items() if k not in _LEFT_OUT},
        "durationSeconds": run_seconds(run, events),
        "phases": found,
        "tasks": described,
    }


def render(data: dict[str, Any], fmt: Format) -> list[Any]:
    """The text view: fields, then the phases and the tasks as tables."""
    started, completed = data.get("startedAt"), data.get("completedAt")
    fields = [
        ("Run", f"{data.get('id')} (#{data.get('runNumber')})"),
        ("Project", data.get("projectId")),
        ("Status", styled(data.get("status"))),
        ("Message", escape(str(data.get("message") or "")) or None),
        ("Trigger", data.get("trigger")),
        ("Started", f"{started} ({timing.age(started)} ago)" if started else None),
        ("Completed", completed),
        ("Duration", timing.took(started, completed)),
        ("Merged commit", data.get("mergedCommit")),
        ("Verification", _verification(data.get("verificationResult"))),
        ("Usage", usage_text(data.get("usage"))),
    ]
    width = max(len(name) for name, _ in fields) + 2
    lines = [f"[bold]{name + ':':<{width}}[/]{value or '-'}" for name, value in fields]
    parts: list[Any] = ["\n".join(lines)]
    if data.get("phases"):
        parts.append("\n[bold]Phases[/]")
        parts.append(_phases(data["phases"], fmt))
    parts.append("\n[bold]Tasks[/]")
    parts.append(_tasks(data["tasks"], fmt) if data.get("tasks") else "none yet")
    return parts


def _verification(result: object) -> str | None:
    if not isinstance(result, dict):
        return None
    passed = result.get("exitCode") == 0
    outcome = "[green]passed[/]" if passed else "[red]failed[/]"
    command = " ".join(str(part) for part in result.get("command") or [])
    return (
        f"{outcome}: {escape(str(result.get('summary') or ''))}"
        f" (exit {result.get('exitCode')}, {timing.duration(result.get('durationSeconds'))})"
        + (f"\n{'':<15}{escape(command)}" if command else "")
    )


def _offset(seconds: float | None) -> str:
    return "-" if seconds is None else f"+{timing.duration(seconds)}"


def _phases(found: list[dict[str, Any]], fmt: Format) -> Listing:
    rows = Listing(fmt, Column("PHASE"), Column("STARTED"), Column("DURATION"))
    for phase in found:
        seconds = phase.get("durationSeconds")
        rows.add_row(
            phase["phase"],
            _offset(phase.get("startOffsetSeconds")),
            timing.duration(seconds) if seconds is not None else "running",
        )
    return rows


def _tasks(tasks: list[dict[str, Any]], fmt: Format) -> Listing:
    rows = Listing(
        fmt,
        Column("ID", whole=True),
        Column("SLUG", whole=True),
        Column("STATUS"),
        Column("ATTEMPTS", drop=2),
        Column("STARTED", drop=3),
        Column("DURATION"),
        Column("NEEDS", drop=1),
        Column("TOKENS", drop=6),
        Column("FILES", wide=True, drop=4),
        Column("COMMIT", whole=True, wide=True, drop=5),
    )
    for task in tasks:
        definition = task.get("definition") or {}
        result = task.get("result") or {}
        files = len(result.get("filesCreated") or []) + len(result.get("filesModified") or [])
        needs = [d.replace("-", "_", 1) for d in definition.get("dependencies") or []]
        seconds = task.get("durationSeconds")
        rows.add_row(
            task.get("id"),
            task.get("slug"),
            styled(task.get("status")),
            task.get("attempts"),
            _offset(task.get("startOffsetSeconds")),
            timing.duration(seconds) if seconds is not None else "-",
            ", ".join(needs) or "-",
            tokens_cell(task.get("usage")),
            files if result else "-",
            result.get("commitSha"),
        )
    return rows
