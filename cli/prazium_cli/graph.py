"""The live view of `prazium run watch`: the run's task graph (tasks in dependency
order, indented by depth, with what each needs), a progress bar and the latest
events, redrawn from the SSE stream."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from prazium_cli.output import styled
from prazium_cli.usage import tokens_cell

RUN_FINAL = frozenset({"succeeded", "failed", "cancelled"})
TASK_DONE = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class GraphTask:
    key: str  # the plan's id (task-001)
    slug: str
    needs: list[str]
    depth: int
    status: str = "pending"
    sequence: int | None = None


def api_task_id(plan_id: str) -> str:
    """task-001 (the plan) -> task_001 (the API's task id)."""
    return plan_id.replace("-", "_", 1)


def layout(plan: list[dict[str, Any]]) -> list[GraphTask]:
    """The plan's tasks, each with its depth (longest chain of dependencies before
    it), ordered by depth then plan order: a topological drawing of the graph."""
    by_id = {str(t.get("id")): t for t in plan if t.get("id")}
    depth: dict[str, int] = {}

    def depth_of(task_id: str, seen: frozenset[str] = frozenset()) -> int:
        if task_id in depth:
            return depth[task_id]
        deps = [d for d in by_id[task_id].get("dependencies") or [] if d in by_id and d not in seen]
        value = 1 + max((depth_of(d, seen | {task_id}) for d in deps), default=-1)
        depth[task_id] = value
        return value

    order = {task_id: i for i, task_id in enumerate(by_id)}
    slug_of = {k: str(v.get("slug") or k) for k, v in by_id.items()}
    tasks = []
    for task_id, task in by_id.items():
        tasks.append(
            GraphTask(
                key=task_id,
                slug=str(task.get("slug") or task_id),
                needs=[slug_of.get(d, d) for d in task.get("dependencies") or []],
                depth=depth_of(task_id),
            )
        )
    return sorted(tasks, key=lambda t: (t.depth, order[t.key]))


@dataclass
class RunView:
    """What the screen shows, updated from the run (GET) and its events."""

    run_id: str
    status: str = "pending"
    run_number: int | None = None
    message: str | None = None
    tasks: list[GraphTask] = field(default_factory=list)
    files: Counter[str] = field(default_factory=Counter)
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=6))
    events: int = 0
    usage: dict[str, Any] | None = None

    def update_run(self, run: dict[str, Any]) -> None:
        self.status = str(run.get("status") or self.status)
        self.run_number = run.get("runNumber") or self.run_number
        self.message = run.get("message")
        self.usage = run.get("usage") if isinstance(run.get("usage"), dict) else self.usage
        plan = (run.get("tasksJson") or {}).get("tasks") or []
        if plan and len(plan) != len(self.tasks):
            self.tasks = layout(plan)
        by_api_id = {api_task_id(t.key): t for t in self.tasks}
        by_slug = {t.slug: t for t in self.tasks}
        for brief in run.get("tasks") or []:
            task = by_api_id.get(str(brief.get("id"))) or by_slug.get(str(brief.get("slug")))
            if task is None:  # tasks before the plan is in the run: listed flat
                task = GraphTask(str(brief.get("id")), str(brief.get("slug")), [], 0)
                self.tasks.append(task)
                by_api_id[task.key] = task
            task.status = str(brief.get("status") or task.status)
            task.sequence = brief.get("sequence")

    def update_event(self, event: dict[str, Any]) -> None:
        self.events += 1
        kind = str(event.get("eventType") or "?")
        raw = event.get("data")
        data: dict[str, Any] = raw if isinstance(raw, dict) else {}
        task_id = data.get("taskId")
        if kind == "FILE_CREATED" and task_id:
            self.files[str(task_id)] += 1
        what = " ".join(
            str(data[k]) for k in ("slug", "path", "status", "message") if data.get(k) is not None
        )
        self.recent.append(f"{kind:<22} {task_id or '':<9} {what}"[:110])

    def render(self) -> RenderableType:
        done = sum(1 for t in self.tasks if t.status in TASK_DONE)
        total = len(self.tasks)
        title = Text.from_markup(
            f"run [bold]{self.run_id}[/]"
            + (f" (#{self.run_number})" if self.run_number else "")
            + f"  {styled(self.status)}  {done}/{total} tasks done"
            + (f"  {tokens_cell(self.usage)} tokens" if self.usage else "")
        )
        graph = Table("task", "status", "needs", "files", box=None, pad_edge=False)
        for task in self.tasks:
            indent = "  " * task.depth + ("└ " if task.depth else "")
            graph.add_row(
                f"{indent}{task.slug}",
                styled(task.status),
                ", ".join(task.needs) or "-",
                str(self.files.get(api_task_id(task.key), 0)),
            )
        bar = Table.grid(padding=(0, 1))
        bar.add_row(
            ProgressBar(total=max(total, 1), completed=done, width=40),
            f"{100 * done // max(total, 1)}%",
        )
        parts: list[RenderableType] = [title, bar, graph]
        if self.message and self.status in RUN_FINAL:
            parts.append(Text(self.message, style="dim"))
        if self.recent:
            parts.append(Text("\n".join(self.recent), style="dim"))
        return Group(*parts)
