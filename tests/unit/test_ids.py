from __future__ import annotations

import pytest

from prazium_kit import ids


def test_project_and_run_ids_round_trip() -> None:
    assert ids.project_id("todo-app") == "proj_todo-app"
    assert ids.project_name("proj_todo-app") == "todo-app"
    assert ids.run_name(ids.run_id("todo-app-x7k2p")) == "todo-app-x7k2p"


def test_task_ids_map_between_api_and_definition_and_cr_name() -> None:
    assert ids.task_id("task-001") == "task_001"
    assert ids.task_definition_id("task_001") == "task-001"
    assert ids.task_cr_name("todo-app-x7k2p", "task-002") == "todo-app-x7k2p-task-002"
    assert ids.branch_name(2, "task-001", "ui-shell") == "feat/run-2/task-001-ui-shell"


@pytest.mark.parametrize(
    "bad",
    ["todo-app", "run_todo", "proj_", "proj_Todo", "proj_../etc", "proj_a_b", "proj_" + "a" * 41],
)
def test_bad_project_ids_are_refused(bad: str) -> None:
    with pytest.raises(ids.InvalidId):
        ids.project_name(bad)


@pytest.mark.parametrize("bad", ["task-1", "task_01", "task_0001", "t_001"])
def test_bad_task_ids_are_refused(bad: str) -> None:
    with pytest.raises(ids.InvalidId):
        ids.task_definition_id(bad)


@pytest.mark.parametrize(
    ("parse", "bad"),
    [
        (ids.project_name, "proj_shop\n"),
        (ids.run_name, "run_shop-r1\n"),
        (ids.task_definition_id, "task_001\n"),
        (ids.task_id, "task-001\n"),
        (ids.project_name, "proj_shop\x00"),
    ],
)
def test_a_trailing_newline_or_nul_is_no_id(parse: object, bad: str) -> None:
    """Python's "$" also matches before a final newline: the ids' patterns must not."""
    with pytest.raises(ids.InvalidId):
        parse(bad)  # type: ignore[operator]
    assert not ids.DNS1123_LABEL.match("shop\n")


@pytest.mark.parametrize(
    "api_id", ["proj_todo-app", "run_todo-app-x7k2p", "task_001", "exp_0a1b", "key_9f", "a" * 128]
)
def test_every_kind_of_api_id_is_well_formed(api_id: str) -> None:
    assert ids.well_formed(api_id)


@pytest.mark.parametrize(
    "bad", ["", "exp_1\x00", "key_1\n", "proj_a b", "proj_a/b", "run_x.y", "a" * 129, "dep_é"]
)
def test_malformed_api_ids(bad: str) -> None:
    assert not ids.well_formed(bad)
