"""Plan validation, ordering and path-scope matching (prazium_kit.plan)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from prazium_kit.plan import (
    PlanError,
    find_cycle,
    glob_to_regex,
    parallel_scope_conflicts,
    path_in_scope,
    scopes_overlap,
    topological_order,
    validate_plan,
)


def task(
    task_id: str,
    *deps: str,
    slug: str | None = None,
    scope: list[str] | None = None,
    outputs: list[str] | None = None,
) -> dict[str, Any]:
    number = task_id.removeprefix("task-")
    return {
        "id": task_id,
        "slug": slug if slug is not None else f"step-{number}",
        "description": f"step {number}",
        "instructions": "do it",
        "dependencies": list(deps),
        "pathScope": scope if scope is not None else [f"src/part{number}/**"],
        "expectedOutputs": outputs if outputs is not None else [f"src/part{number}/main.py"],
    }


def plan_of(*tasks: dict[str, Any], merge: list[str] | None = None) -> dict[str, Any]:
    return {
        "tasks": list(tasks),
        "mergeOrder": merge if merge is not None else [t["id"] for t in tasks],
        "verifyCommand": ["python", "-m", "unittest"],
    }


def good_plan() -> dict[str, Any]:
    return plan_of(
        task("task-001"),
        task("task-002", "task-001"),
        task("task-003", "task-001"),
        task("task-004", "task-002", "task-003"),
    )


def rejection(plan: dict[str, Any]) -> str:
    with pytest.raises(PlanError) as caught:
        validate_plan(plan)
    return str(caught.value)


# ------------------------------------------------------------------ validate_plan


def test_valid_plan_passes() -> None:
    validate_plan(good_plan())


def test_plan_error_is_a_value_error_listing_problems() -> None:
    plan = good_plan()
    plan["tasks"][0]["slug"] = "Bad Slug"
    plan["tasks"][1]["pathScope"] = []
    with pytest.raises(ValueError) as caught:
        validate_plan(plan)
    assert isinstance(caught.value, PlanError)
    assert len(caught.value.problems) == 2
    assert "task-001: slug 'Bad Slug'" in caught.value.problems[0]
    assert caught.value.problems[1] == "task-002: pathScope is empty"


@pytest.mark.parametrize("plan", [None, [], {}, {"tasks": []}, {"tasks": "nope"}])
def test_plan_without_tasks_is_rejected(plan: Any) -> None:
    with pytest.raises(PlanError):
        validate_plan(plan)


def test_missing_task_id_is_rejected() -> None:
    plan = good_plan()
    del plan["tasks"][2]["id"]
    assert "task at index 2 has no id" in rejection(plan)


def test_duplicate_task_ids_are_named() -> None:
    plan = good_plan()
    plan["tasks"][2]["id"] = "task-002"
    assert "duplicate task ids: task-002" in rejection(plan)


@pytest.mark.parametrize("bad_id", ["task-1", "task_001", "TASK-001", "task-0001", "step-001"])
def test_malformed_task_ids_are_rejected(bad_id: str) -> None:
    plan = good_plan()
    plan["tasks"][0]["id"] = bad_id
    plan["mergeOrder"][0] = bad_id
    for other in plan["tasks"][1:]:
        other["dependencies"] = [bad_id if d == "task-001" else d for d in other["dependencies"]]
    assert f"task id {bad_id!r} does not match ^task-[0-9]{{3}}$" in rejection(plan)


@pytest.mark.parametrize(
    "slug", ["UI-Shell", "ui_shell", "-shell", "shell-", "", "a" * 41, "ui shell", None]
)
def test_bad_slugs_are_rejected(slug: Any) -> None:
    plan = good_plan()
    plan["tasks"][1]["slug"] = slug
    assert f"task-002: slug {slug!r} is not a DNS-1123 label" in rejection(plan)


@pytest.mark.parametrize("slug", ["a", "ui-shell", "api-v2", "a" * 40, "0-x"])
def test_good_slugs_are_accepted(slug: str) -> None:
    plan = good_plan()
    plan["tasks"][1]["slug"] = slug
    validate_plan(plan)


def test_unknown_dependencies_are_named() -> None:
    plan = good_plan()
    plan["tasks"][3]["dependencies"] = ["task-002", "task-009", "task-008"]
    assert "task-004 depends on unknown task ids: task-008, task-009" in rejection(plan)


def test_self_dependency_is_rejected() -> None:
    plan = good_plan()
    plan["tasks"][1]["dependencies"] = ["task-001", "task-002"]
    assert "task-002 depends on itself" in rejection(plan)


def test_cycle_is_named() -> None:
    plan = plan_of(
        task("task-001"),
        task("task-002", "task-001", "task-003"),
        task("task-003", "task-002"),
    )
    assert rejection(plan) == "invalid plan: dependency cycle: task-002 -> task-003 -> task-002"


def test_longer_cycle_is_named_in_dependency_order() -> None:
    plan = plan_of(
        task("task-001", "task-003"), task("task-002", "task-001"), task("task-003", "task-002")
    )
    assert "task-001 -> task-003 -> task-002 -> task-001" in rejection(plan)


@pytest.mark.parametrize("scope", [[], None, ""])
def test_empty_path_scope_is_rejected(scope: Any) -> None:
    plan = good_plan()
    plan["tasks"][2]["pathScope"] = scope
    assert "task-003: pathScope is empty" in rejection(plan)


def test_missing_path_scope_is_rejected() -> None:
    plan = good_plan()
    del plan["tasks"][2]["pathScope"]
    assert "task-003: pathScope is empty" in rejection(plan)


@pytest.mark.parametrize("scope", [[""], "src/**", [1], {"src/**": True}])
def test_malformed_path_scope_is_rejected(scope: Any) -> None:
    plan = good_plan()
    plan["tasks"][2]["pathScope"] = scope
    assert "task-003: pathScope must be a list of non-empty path patterns" in rejection(plan)


@pytest.mark.parametrize("pattern", ["/etc/**", "../outside/**", "src/../../x"])
def test_path_scope_must_stay_in_the_repository(pattern: str) -> None:
    plan = good_plan()
    plan["tasks"][0]["pathScope"] = [pattern]
    assert "task-001: pathScope entries must be relative paths" in rejection(plan)


def test_expected_outputs_must_be_inside_the_scope() -> None:
    plan = good_plan()
    plan["tasks"][1]["expectedOutputs"] = ["src/part002/ok.py", "README.md"]
    assert "task-002: expectedOutputs outside its pathScope: ['README.md']" in rejection(plan)


def test_merge_order_missing_a_task_is_rejected() -> None:
    plan = good_plan()
    plan["mergeOrder"] = ["task-001", "task-002", "task-004"]
    assert "mergeOrder is not a permutation of the task ids: missing task-003" in rejection(plan)


def test_merge_order_with_unknown_and_repeated_ids_is_rejected() -> None:
    plan = good_plan()
    plan["mergeOrder"] = ["task-001", "task-002", "task-002", "task-003", "task-004", "task-007"]
    message = rejection(plan)
    assert "unknown task-007" in message
    assert "repeated task-002" in message


def test_merge_order_before_dependency_is_rejected() -> None:
    plan = good_plan()
    plan["mergeOrder"] = ["task-001", "task-004", "task-002", "task-003"]
    message = rejection(plan)
    assert "mergeOrder places task-004 before its dependency task-002" in message
    assert "mergeOrder places task-004 before its dependency task-003" in message


@pytest.mark.parametrize("command", [[], "python -m unittest", [""], ["python", 3]])
def test_bad_verify_command_is_rejected(command: Any) -> None:
    plan = good_plan()
    plan["verifyCommand"] = command
    assert "verifyCommand must be a non-empty list" in rejection(plan)


def test_validation_does_not_modify_the_plan() -> None:
    plan = good_plan()
    before = copy.deepcopy(plan)
    validate_plan(plan)
    assert plan == before


# -------------------------------------------------------------------------- graph


def test_topological_order_keeps_input_order_among_ready_tasks() -> None:
    tasks = [
        task("task-004", "task-002", "task-003"),
        task("task-003", "task-001"),
        task("task-001"),
        task("task-002", "task-001"),
    ]
    assert topological_order(tasks) == ["task-001", "task-003", "task-002", "task-004"]


def test_topological_order_rejects_cycles_and_unknown_ids() -> None:
    with pytest.raises(PlanError, match="task-001 -> task-002 -> task-001"):
        topological_order([task("task-001", "task-002"), task("task-002", "task-001")])
    with pytest.raises(PlanError, match="unknown dependency ids: task-009"):
        topological_order([task("task-001", "task-009")])


def test_find_cycle_returns_none_for_a_dag() -> None:
    assert find_cycle(good_plan()["tasks"]) is None


def test_parallel_scope_conflicts_only_reports_unordered_overlaps() -> None:
    plan = plan_of(
        task("task-001", scope=["app/**"], outputs=[]),
        task("task-002", "task-001", scope=["app/a.py"], outputs=[]),
        task("task-003", "task-001", scope=["app/*.py"], outputs=[]),
        task("task-004", "task-001", scope=["tests/test_b.py"], outputs=[]),
    )
    validate_plan(plan)
    # task-001 precedes everything, so only the two siblings sharing app/a.py conflict.
    assert parallel_scope_conflicts(plan) == [("task-002", "task-003")]


# --------------------------------------------------------------------- path scope


@pytest.mark.parametrize(
    ("path", "scope", "expected"),
    [
        ("src/app/page.tsx", ["src/app/**"], True),
        ("src/app/deep/er/file.py", ["src/app/**"], True),
        ("src/app", ["src/app/**"], False),
        ("src/application/x.py", ["src/app/**"], False),
        ("src/other.py", ["src/app/**"], False),
        ("src/main.py", ["src/*.py"], True),
        ("src/pkg/main.py", ["src/*.py"], False),
        ("README.md", ["README.md"], True),
        ("docs/README.md", ["README.md"], False),
        ("README.mdx", ["README.md"], False),
        ("tests/test_a.py", ["**/test_*.py"], True),
        ("test_a.py", ["**/test_*.py"], True),
        ("a/b/c/test_x.py", ["**/test_*.py"], True),
        ("a/b", ["a/**/b"], True),
        ("a/x/y/b", ["a/**/b"], True),
        ("a/x/y/c", ["a/**/b"], False),
        ("src/a1.py", ["src/a?.py"], True),
        ("src/a12.py", ["src/a?.py"], False),
        ("anything/at/all", ["**"], True),
        ("app/model/x.py", ["app/model/"], True),
        ("./app/main.py", ["app/*.py"], True),
        ("app//main.py", ["app/main.py"], True),
        ("app/x+y.py", ["app/x+y.py"], True),
        ("app/x[1].py", ["app/x[1].py"], True),
        ("app/x1.py", ["app/x[1].py"], False),
        ("../etc/passwd", ["**"], False),
        ("app/../../etc/passwd", ["app/**"], False),
        ("/etc/passwd", ["**"], False),
        ("", ["**"], False),
        ("a.py", [], False),
        ("b.py", ["a.py", "b.py"], True),
    ],
)
def test_path_in_scope(path: str, scope: list[str], expected: bool) -> None:
    assert path_in_scope(path, scope) is expected


def test_star_does_not_cross_segments_in_the_regex() -> None:
    regex = glob_to_regex("src/*/index.ts")
    assert regex.fullmatch("src/a/index.ts")
    assert not regex.fullmatch("src/a/b/index.ts")


def test_glob_to_regex_rejects_absolute_patterns() -> None:
    with pytest.raises(ValueError):
        glob_to_regex("/abs/**")


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("app/**", "app/a.py", True),
        ("app/a.py", "app/b.py", False),
        ("app/*.py", "app/a.py", True),
        ("app/*.py", "app/x/a.py", False),
        ("app/*.py", "app/*.txt", False),
        ("app/x*", "app/*y", True),
        ("app/model/**", "app/resources/**", False),
        ("**/test_*.py", "tests/test_a.py", True),
        ("tests/test_a.py", "tests/test_b.py", False),
        ("README.md", "README.md", True),
    ],
)
def test_scopes_overlap(first: str, second: str, expected: bool) -> None:
    assert scopes_overlap(first, second) is expected
    assert scopes_overlap(second, first) is expected
