"""Validation of build plans, independent of the agent that wrote them.

A plan is the JSON object a planner's ``decompose`` returns and a Run stores in
``status.plan``::

    {"tasks": [{"id": "task-001", "slug": "app-shell", "description": "...",
                "instructions": "...", "dependencies": [], "pathScope": ["app/**"],
                "expectedOutputs": ["app/server.py"]}, ...],
     "mergeOrder": ["task-001", ...],
     "verifyCommand": ["python", "-m", "unittest", ...]}

Planners may be language models, so nothing here trusts the shape: every check
reports the offending task ids, and :func:`validate_plan` raises one
:class:`PlanError` listing every problem of the first failing stage (shape, then
graph, then merge order) so a planner can be re-prompted with all of them at once.

Path scopes use a small glob dialect shared by the worker (which refuses changes
outside a task's scope) and the planner: ``*`` and ``?`` match within one path
segment, a ``**`` segment matches any number of segments (``src/**`` matches
everything below ``src``), a trailing ``/`` means "everything below", and any
other character is literal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from prazium_kit import ids

TASK_ID_PATTERN = ids.TASK_DEFINITION_ID
SLUG_PATTERN = ids.DNS1123_LABEL
MAX_SLUG_LENGTH = 40

_WILDCARDS = ("*", "?")


class PlanError(ValueError):
    """A plan that cannot be executed; ``problems`` holds one message per defect."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("invalid plan: " + "; ".join(self.problems))


# --------------------------------------------------------------------------- plan


def validate_plan(plan: Mapping[str, Any]) -> None:
    """Raise :class:`PlanError` unless ``plan`` is a well-formed, acyclic, mergeable DAG."""
    if not isinstance(plan, Mapping):
        raise PlanError(["plan must be an object with 'tasks' and 'mergeOrder'"])
    tasks = plan.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise PlanError(["plan has no tasks"])

    _raise_if_any(_shape_problems(tasks))
    # From here on every task is a mapping with a unique, well-formed id and
    # list-typed dependencies, so graph code can index freely.
    _raise_if_any(_reference_problems(tasks))
    cycle = find_cycle(tasks)
    if cycle:
        raise PlanError([f"dependency cycle: {' -> '.join(cycle)}"])
    _raise_if_any(_merge_order_problems(tasks, plan.get("mergeOrder")))
    _raise_if_any(_verify_command_problems(plan))


def _raise_if_any(problems: list[str]) -> None:
    if problems:
        raise PlanError(problems)


def _shape_problems(tasks: list[Any]) -> list[str]:
    problems: list[str] = []
    ids: list[str] = []
    for index, task in enumerate(tasks):
        if not isinstance(task, Mapping):
            problems.append(f"task at index {index} is not an object")
            continue
        task_id = task.get("id")
        if not isinstance(task_id, str) or not task_id:
            problems.append(f"task at index {index} has no id")
            continue
        ids.append(task_id)
        if not TASK_ID_PATTERN.match(task_id):
            problems.append(f"task id {task_id!r} does not match ^task-[0-9]{{3}}$")
        problems.extend(_task_field_problems(task_id, task))

    duplicates = sorted(task_id for task_id, count in Counter(ids).items() if count > 1)
    if duplicates:
        problems.append(f"duplicate task ids: {', '.join(duplicates)}")
    return problems


def _task_field_problems(task_id: str, task: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    slug = task.get("slug")
    if not isinstance(slug, str) or not SLUG_PATTERN.match(slug) or len(slug) > MAX_SLUG_LENGTH:
        problems.append(
            f"{task_id}: slug {slug!r} is not a DNS-1123 label "
            f"(lowercase letters, digits and '-', at most {MAX_SLUG_LENGTH} characters)"
        )

    dependencies = task.get("dependencies", [])
    if not _is_string_list(dependencies):
        problems.append(f"{task_id}: dependencies must be a list of task ids")

    scope = task.get("pathScope")
    if not scope:
        problems.append(f"{task_id}: pathScope is empty")
        scope = None
    elif not _is_string_list(scope) or not all(scope):
        problems.append(f"{task_id}: pathScope must be a list of non-empty path patterns")
        scope = None
    else:
        bad = [pattern for pattern in scope if not _is_relative_pattern(pattern)]
        if bad:
            problems.append(f"{task_id}: pathScope entries must be relative paths: {bad}")
            scope = None

    outputs = task.get("expectedOutputs", [])
    if not _is_string_list(outputs):
        problems.append(f"{task_id}: expectedOutputs must be a list of paths")
    elif scope is not None:
        # A worker refuses writes outside the scope, so such an output could never appear.
        outside = [path for path in outputs if not path_in_scope(path, scope)]
        if outside:
            problems.append(f"{task_id}: expectedOutputs outside its pathScope: {outside}")

    problems.extend(_test_command_problems(task_id, task))
    for text_field in ("description", "instructions"):
        if text_field in task and not isinstance(task[text_field], str):
            problems.append(f"{task_id}: {text_field} must be a string")
    return problems


def _test_command_problems(task_id: str, task: Mapping[str, Any]) -> list[str]:
    """An optional argv: the task's own tests (the coding loop runs them before finishing)."""
    if "testCommand" not in task:
        return []
    command = task["testCommand"]
    if not _is_string_list(command) or not command or not all(command):
        return [f"{task_id}: testCommand must be a non-empty list of non-empty strings"]
    return []


def _reference_problems(tasks: list[Mapping[str, Any]]) -> list[str]:
    problems: list[str] = []
    known = {task["id"] for task in tasks}
    for task in tasks:
        dependencies = task.get("dependencies", [])
        if task["id"] in dependencies:
            problems.append(f"{task['id']} depends on itself")
        unknown = sorted({dep for dep in dependencies if dep not in known})
        if unknown:
            problems.append(f"{task['id']} depends on unknown task ids: {', '.join(unknown)}")
    return problems


def _merge_order_problems(tasks: list[Mapping[str, Any]], merge_order: Any) -> list[str]:
    if not _is_string_list(merge_order):
        return ["mergeOrder must be a list of task ids"]
    by_id = {task["id"]: task for task in tasks}
    counts = Counter(merge_order)
    missing = [task_id for task_id in by_id if task_id not in counts]
    unknown = sorted(task_id for task_id in counts if task_id not in by_id)
    repeated = sorted(task_id for task_id, count in counts.items() if count > 1)
    if missing or unknown or repeated:
        details = []
        if missing:
            details.append(f"missing {', '.join(missing)}")
        if unknown:
            details.append(f"unknown {', '.join(unknown)}")
        if repeated:
            details.append(f"repeated {', '.join(repeated)}")
        return [f"mergeOrder is not a permutation of the task ids: {'; '.join(details)}"]

    position = {task_id: index for index, task_id in enumerate(merge_order)}
    problems = []
    for task_id in merge_order:
        for dep in by_id[task_id].get("dependencies", []):
            if position[dep] > position[task_id]:
                problems.append(f"mergeOrder places {task_id} before its dependency {dep}")
    return problems


def _verify_command_problems(plan: Mapping[str, Any]) -> list[str]:
    if "verifyCommand" not in plan:
        return []
    command = plan["verifyCommand"]
    if not _is_string_list(command) or not command or not all(command):
        return ["verifyCommand must be a non-empty list of non-empty strings"]
    return []


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


# -------------------------------------------------------------------------- graph


def _dependency_map(tasks: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    return {task["id"]: list(task.get("dependencies", [])) for task in tasks}


def find_cycle(tasks: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """Return one dependency cycle as ``[a, b, ..., a]``, or None when the graph is acyclic.

    Unknown dependency ids are ignored here (they are reported separately). The
    search follows tasks and dependencies in the order given, so the reported
    cycle is deterministic.
    """
    graph = _dependency_map(tasks)
    done: set[str] = set()
    for root in graph:
        if root in done:
            continue
        # Iterative DFS: (node, index of next dependency to explore); the stack is the path.
        path: list[str] = [root]
        on_path = {root}
        cursors = [0]
        while path:
            node = path[-1]
            deps = graph[node]
            if cursors[-1] == len(deps):
                done.add(node)
                on_path.discard(node)
                path.pop()
                cursors.pop()
                continue
            dep = deps[cursors[-1]]
            cursors[-1] += 1
            if dep not in graph or dep in done:
                continue
            if dep in on_path:
                return [*path[path.index(dep) :], dep]
            path.append(dep)
            on_path.add(dep)
            cursors.append(0)
    return None


def topological_order(tasks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Task ids with every task after its dependencies; ties keep the input order.

    Raises :class:`PlanError` on unknown dependencies or cycles.
    """
    graph = _dependency_map(tasks)
    unknown = sorted({dep for deps in graph.values() for dep in deps if dep not in graph})
    if unknown:
        raise PlanError([f"unknown dependency ids: {', '.join(unknown)}"])
    ordered: list[str] = []
    placed: set[str] = set()
    remaining = list(graph)
    while remaining:
        ready = next(
            (task_id for task_id in remaining if all(dep in placed for dep in graph[task_id])),
            None,
        )
        if ready is None:
            cycle = find_cycle(tasks) or remaining
            raise PlanError([f"dependency cycle: {' -> '.join(cycle)}"])
        ordered.append(ready)
        placed.add(ready)
        remaining.remove(ready)
    return ordered


def ancestors(tasks: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Map each task id to every task it transitively depends on (graph must be acyclic)."""
    graph = _dependency_map(tasks)
    result: dict[str, set[str]] = {}
    for task_id in topological_order(tasks):
        found: set[str] = set()
        for dep in graph[task_id]:
            found.add(dep)
            found |= result[dep]
        result[task_id] = found
    return result


def parallel_scope_conflicts(plan: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Pairs of tasks that may run concurrently and whose path scopes may overlap.

    Such pairs can produce merge conflicts. The overlap test is conservative (it
    may report patterns that cannot actually share a file, never the reverse), so
    this is a lint for planners rather than part of :func:`validate_plan`.
    """
    tasks: list[Mapping[str, Any]] = plan["tasks"]
    before = ancestors(tasks)
    conflicts = []
    for index, first in enumerate(tasks):
        for second in tasks[index + 1 :]:
            ordered = first["id"] in before[second["id"]] or second["id"] in before[first["id"]]
            if ordered:
                continue
            if any(scopes_overlap(a, b) for a in first["pathScope"] for b in second["pathScope"]):
                conflicts.append((first["id"], second["id"]))
    return conflicts


# ---------------------------------------------------------------------- path scope


def _normalize_path(path: str) -> str | None:
    """Clean a repository-relative path; None when it is absolute or climbs out with ``..``."""
    if not path or path.startswith("/"):
        return None
    segments = [segment for segment in path.split("/") if segment not in ("", ".")]
    if not segments or ".." in segments:
        return None
    return "/".join(segments)


def _normalize_pattern(pattern: str) -> str | None:
    trailing_slash = pattern.endswith("/")
    normalized = _normalize_path(pattern)
    if normalized is None:
        return None
    return normalized + "/**" if trailing_slash else normalized


def _is_relative_pattern(pattern: str) -> bool:
    return _normalize_pattern(pattern) is not None


def _segment_regex(segment: str) -> str:
    parts = []
    for char in segment:
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


@lru_cache(maxsize=1024)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Compile a scope pattern into a regex matching whole normalized paths.

    A ``**`` segment in the middle or at the start matches zero or more whole
    segments; at the end it matches one or more, because scopes name files and
    ``src/**`` should mean "anything under src", not ``src`` itself.
    """
    normalized = _normalize_pattern(pattern)
    if normalized is None:
        raise ValueError(f"scope pattern must be a relative path: {pattern!r}")
    segments = normalized.split("/")
    regex = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            regex.append(".+" if last else "(?:[^/]+/)*")
        else:
            regex.append(_segment_regex(segment) + ("" if last else "/"))
    return re.compile("".join(regex))


def path_in_scope(path: str, scope: Iterable[str]) -> bool:
    """True when the repository-relative ``path`` matches at least one scope pattern.

    Absolute paths and paths containing ``..`` are never in scope.
    """
    normalized = _normalize_path(path)
    if normalized is None:
        return False
    return any(
        _is_relative_pattern(pattern) and glob_to_regex(pattern).fullmatch(normalized)
        for pattern in scope
    )


def scopes_overlap(first: str, second: str) -> bool:
    """Conservatively decide whether some path could match both scope patterns."""
    a = _normalize_pattern(first)
    b = _normalize_pattern(second)
    if a is None or b is None:
        return False
    return _segments_overlap(tuple(a.split("/")), tuple(b.split("/")))


@lru_cache(maxsize=4096)
def _segments_overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    if not a or not b:
        # Trailing ``**`` may be left over; it can match the empty remainder here
        # because the overlap test only needs to be conservative.
        return all(segment == "**" for segment in a + b)
    if a[0] == "**":
        return _segments_overlap(a[1:], b) or _segments_overlap(a, b[1:])
    if b[0] == "**":
        return _segments_overlap(a, b[1:]) or _segments_overlap(a[1:], b)
    return _segment_overlap(a[0], b[0]) and _segments_overlap(a[1:], b[1:])


def _segment_overlap(a: str, b: str) -> bool:
    a_wild = any(char in a for char in _WILDCARDS)
    b_wild = any(char in b for char in _WILDCARDS)
    if not a_wild and not b_wild:
        return a == b
    if not a_wild:
        return re.fullmatch(_segment_regex(b), a) is not None
    if not b_wild:
        return re.fullmatch(_segment_regex(a), b) is not None
    # Both contain wildcards: the literal heads and tails must be compatible.
    a_head, a_tail = _literal_edges(a)
    b_head, b_tail = _literal_edges(b)
    heads_ok = a_head.startswith(b_head) or b_head.startswith(a_head)
    tails_ok = a_tail.endswith(b_tail) or b_tail.endswith(a_tail)
    return heads_ok and tails_ok


def _literal_edges(segment: str) -> tuple[str, str]:
    first = min(segment.index(char) for char in _WILDCARDS if char in segment)
    last = max(segment.rindex(char) for char in _WILDCARDS if char in segment)
    return segment[:first], segment[last + 1 :]
