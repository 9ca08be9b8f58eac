"""A run's plan as a graph, so tests name tasks by slug or by their place in it.

The template planner's plans grow as it learns (a web interface task, an API task
that follows another): a test that hard-codes task-004 or "6 tasks" tests an old
plan. These helpers read the plan a run builds (its Task CRs, or the template
planner on the Project's approved documents, before the run starts) and work out
from the dependencies what a test should expect, e.g. what a failed task leaves
behind.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prazium_appgen.planner import TemplatePlanner
from prazium_kit import ids
from prazium_operator.reconcilers.project.spec import committed_documents

SMOKE_TESTS = "smoke-tests"  # the template planner's last task: the app's own tests


@dataclass(frozen=True)
class PlanGraph:
    order: tuple[str, ...]  # task ids in plan order
    slugs: Mapping[str, str]
    dependencies: Mapping[str, frozenset[str]]

    @classmethod
    def of(cls, tasks: Iterable[Mapping[str, Any]]) -> PlanGraph:
        """From planned tasks (id, slug, dependencies), in plan order."""
        listed = list(tasks)
        return cls(
            order=tuple(str(t["id"]) for t in listed),
            slugs={str(t["id"]): str(t["slug"]) for t in listed},
            dependencies={str(t["id"]): frozenset(t.get("dependencies") or ()) for t in listed},
        )

    @classmethod
    def of_run(cls, task_objects: Iterable[Mapping[str, Any]]) -> PlanGraph:
        """From a run's Task CRs (tests.support.build.tasks_of), its repair tasks left
        out: the plan as the planner made it."""
        definitions = [t["spec"]["definition"] for t in task_objects]
        return cls.of(d for d in definitions if d.get("role") != "repair")

    def __len__(self) -> int:
        return len(self.order)

    def by_slug(self, slug: str) -> str:
        found = [task_id for task_id, s in self.slugs.items() if s == slug]
        assert len(found) == 1, f"one task with slug {slug} in {dict(self.slugs)}"
        return found[0]

    def dependents(self, roots: Iterable[str]) -> set[str]:
        """roots and every task that depends on one of them, directly or not."""
        found = set(roots)
        while True:
            more = {t for t in self.order if t not in found and found & self.dependencies[t]}
            if not more:
                return found
            found |= more

    def ancestors(self, task_id: str) -> set[str]:
        """Every task task_id depends on, directly or not."""
        found: set[str] = set()
        todo = set(self.dependencies[task_id])
        while todo:
            found |= todo
            todo = {dep for t in todo for dep in self.dependencies[t]} - found
        return found

    def siblings(self, task_id: str) -> set[str]:
        """The tasks that neither depend on task_id nor are depended on by it."""
        related = self.dependents({task_id}) | self.ancestors(task_id)
        return set(self.order) - related

    def sinks(self) -> list[str]:
        """The tasks no other task depends on, in plan order."""
        depended = {dep for deps in self.dependencies.values() for dep in deps}
        return [t for t in self.order if t not in depended]

    def next_ids(self, count: int = 1) -> list[str]:
        """The ids tasks added after the plan get, in turn (repair tasks): the highest
        id's number + 1, + 2 and so on."""
        numbers = [int(m.group(1)) for t in self.order if (m := ids.TASK_DEFINITION_ID.match(t))]
        highest = max(numbers, default=0)
        return [f"task-{highest + n:03d}" for n in range(1, count + 1)]

    def phases_after_failure(self, failed: str) -> dict[str, str]:
        """Each task's phase when `failed` fails and every task that does not need it
        had started by then: its dependents cancelled (never started), the rest
        succeeded."""
        cancelled = self.dependents({failed}) - {failed}
        return {
            t: "failed" if t == failed else "cancelled" if t in cancelled else "succeeded"
            for t in self.order
        }

    def in_dependency_order(self, sequence: Sequence[str]) -> bool:
        """Whether every task in sequence comes after the tasks it depends on."""
        seen: set[str] = set()
        for task_id in sequence:
            if not self.dependencies.get(task_id, frozenset()) <= seen:
                return False
            seen.add(task_id)
        return True

    def failing_beside_a_sibling(self) -> str:
        """A task to fail whose failure leaves work of every kind: it has dependents (to
        be cancelled) and a sibling with the same dependencies (started in the same
        scheduling round, so it runs while the failing task does). The last such task in
        plan order, so most of the plan has succeeded before it (a retry reuses them)."""
        candidates = [
            t
            for t in self.order
            if self.dependents({t}) != {t}
            and any(self.dependencies[s] == self.dependencies[t] for s in self.siblings(t))
        ]
        assert candidates, f"no task with dependents and a sibling in {dict(self.dependencies)}"
        return candidates[-1]


def template_plan(repo: Path, project: Mapping[str, Any]) -> PlanGraph:
    """The plan the template planner makes for the Project's approved spec documents
    (status.spec.commitSha in its repository, or inline): what its next run builds with
    the template planner, known before that run starts."""
    state = project["status"]["spec"]
    commit = state.get("commitSha")
    documents = committed_documents(repo, commit) if commit else dict(state["documents"])
    plan = TemplatePlanner().decompose(project["spec"]["displayName"], documents)
    return PlanGraph.of(plan["tasks"])
