"""The CLI's pure parts: config file, answer parsing, the task graph's layout,
arguments and task names, table widths, times, run phases, spec documents, YAML,
and that it imports nothing of the server side."""

from __future__ import annotations

import ast
import datetime as dt
import json
import stat
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from prazium_cli import config, previews, spec, timing
from prazium_cli.describe import document, phases, task_times
from prazium_cli.errors import CliError
from prazium_cli.graph import RunView, layout
from prazium_cli.output import Column, Format, Listing, allocate, to_yaml, visible
from prazium_cli.projects import parse_answer
from prazium_cli.targets import match_task, place

CLI_DIR = Path(__file__).resolve().parents[2] / "cli" / "prazium_cli"


def test_config_is_written_0600_and_env_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "deep" / "config.json"
    config.save(path, "http://h:3001/v1/", "pzm_abc")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    monkeypatch.delenv("PRAZIUM_API_URL", raising=False)
    monkeypatch.delenv("PRAZIUM_API_KEY", raising=False)
    assert config.load(path) == config.Config("http://h:3001", "pzm_abc", path)
    monkeypatch.setenv("PRAZIUM_API_KEY", "pzm_env")
    assert config.load(path).api_key == "pzm_env"
    path.write_text("[1]")
    with pytest.raises(ValueError, match="JSON object"):
        config.load(path)


def test_answers_are_typed_by_question() -> None:
    single = {"id": "q1", "type": "single_choice", "options": ["Email", "OAuth"]}
    assert parse_answer(single, "2") == "OAuth"
    assert parse_answer(single, "email") == "Email"
    with pytest.raises(CliError) as refused:
        parse_answer(single, "Magic")
    assert refused.value.code == "VALIDATION_ERROR" and refused.value.exit_code == 5
    multi = {"id": "q2", "type": "multi_choice", "options": ["a", "b", "c"]}
    assert parse_answer(multi, "1, c") == ["a", "c"]
    assert parse_answer(multi, ["b"]) == ["b"]
    boolean = {"id": "q3", "type": "boolean"}
    assert parse_answer(boolean, "yes") is True and parse_answer(boolean, False) is False
    assert parse_answer({"id": "q4", "type": "text"}, "Keep it simple") == "Keep it simple"


def test_the_graph_is_drawn_in_dependency_order() -> None:
    plan = [
        {"id": "task-003", "slug": "ui", "dependencies": ["task-002", "task-001"]},
        {"id": "task-001", "slug": "shell", "dependencies": []},
        {"id": "task-002", "slug": "data", "dependencies": ["task-001"]},
    ]
    drawn = [(t.slug, t.depth, t.needs) for t in layout(plan)]
    assert drawn == [("shell", 0, []), ("data", 1, ["shell"]), ("ui", 2, ["data", "shell"])]
    view = RunView("run_x")
    view.update_run(
        {
            "status": "executing",
            "tasksJson": {"tasks": plan},
            "tasks": [{"id": "task_001", "slug": "shell", "status": "succeeded"}],
        }
    )
    view.update_event({"eventType": "FILE_CREATED", "data": {"taskId": "task_001", "path": "a"}})
    assert [t.status for t in view.tasks] == ["succeeded", "pending", "pending"]
    assert view.files["task_001"] == 1


def test_the_cli_imports_no_server_package() -> None:
    imported = set()
    for source in CLI_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    assert not imported & {"prazium_api", "prazium_operator", "prazium_kit", "kubernetes"}


def test_positional_arguments_are_sorted_out_by_their_prefixes() -> None:
    slots = ("project", "run", "task")
    assert place(["proj_a", "run_b", "app-shell"], slots) == {
        "project": "proj_a",
        "run": "run_b",
        "task": "app-shell",
    }
    # Left out: the project (current), the run (latest), or both.
    assert place(["run_b", "3", None], slots) == {"project": None, "run": "run_b", "task": "3"}
    assert place(["proj_a", "api-orders", None], slots) == {
        "project": "proj_a",
        "run": None,
        "task": "api-orders",
    }
    assert place(["task_001", None, None], slots) == {
        "project": None,
        "run": None,
        "task": "task_001",
    }
    # What fits no slot by prefix fills the first empty one, for the API to judge.
    assert place(["my-project", "run_b"], ("project", "run")) == {
        "project": "my-project",
        "run": "run_b",
    }
    # A file whose name looks like an id is still a path once the project is given.
    assert place(["proj_a", "proj_notes.md"], ("project", "path")) == {
        "project": "proj_a",
        "path": "proj_notes.md",
    }
    with pytest.raises(CliError) as extra:
        place(["run_a", "run_b", "x"], ("project", "run"))
    assert extra.value.exit_code == 5 and "[PROJECT] [RUN]" in extra.value.message


def test_a_task_is_named_by_id_number_plan_id_or_slug() -> None:
    tasks = [
        {"id": "task_001", "slug": "app-shell"},
        {"id": "task_002", "slug": "data-model"},
        {"id": "task_010", "slug": "api-orders"},
    ]
    for name in ("task_010", "task-010", "10", "010", "api-orders", "API-Orders", " 10 "):
        assert match_task(tasks, name) == "task_010", name
    assert match_task(tasks, "1") == "task_001" and match_task(tasks, "task-2") == "task_002"
    for name in ("task_003", "4", "api", "", "task_", "1000"):
        assert match_task(tasks, name) is None, name


def test_column_widths_keep_short_cells_whole_and_wrap_the_longest() -> None:
    assert allocate([(4, 9), (5, 130), (6, 6)], 60) == [9, 45, 6]
    assert allocate([(1, 3), (1, 3)], 10) == [3, 3]  # everything fits: the maximums
    assert allocate([(2, 10), (2, 10), (2, 10)], 10) == [4, 3, 3]
    assert allocate([(5, 5), (1, 1)], 5) is None  # the minimums do not fit
    columns = [Column("ID", whole=True), Column("A", drop=1), Column("B", drop=2), Column("C")]
    ranges = [(30, 30), (10, 10), (20, 20), (5, 5)]
    assert visible(columns, ranges, 100) == [0, 1, 2, 3]
    assert visible(columns, ranges, 60) == [0, 1, 3]  # B goes first (highest drop)
    assert visible(columns, ranges, 40) == [0, 3]
    assert visible(columns, ranges, 10) == [0, 3]  # ids are never dropped, nor cut


def test_a_narrow_table_keeps_its_ids_whole() -> None:
    long_id = "run_" + "x" * 50
    rows = Listing(Format.text, Column("ID", whole=True), "NAME", Column("WHEN", drop=1))
    rows.add_row(long_id, "a name of several words", "2024-01-15T11:30:00Z")
    wide = Listing(Format.wide, Column("ID", whole=True), Column("EXTRA", wide=True))
    wide.add_row("proj_a", "more")
    for width in (30, 60, 80):
        rendered = Console(width=width, record=True, color_system=None)
        rendered.print(rows.table(width), crop=False)
        text = rendered.export_text()
        assert long_id in text and "…" not in text, (width, text)
    assert "WHEN" not in _rendered(rows, 60) and "WHEN" in _rendered(rows, 100)
    assert "EXTRA" in _rendered(wide, 80)
    narrow = Listing(Format.text, Column("ID", whole=True), Column("EXTRA", wide=True))
    narrow.add_row("proj_a", "more")
    assert "EXTRA" not in _rendered(narrow, 80)
    # A description is left out rather than squeezed into a column a word wide.
    described = Listing(Format.wide, Column("ID", whole=True), Column("NOTE", least=30, drop=1))
    described.add_row("proj_" + "a" * 40, "words " * 20)
    assert "NOTE" not in _rendered(described, 60) and "NOTE" in _rendered(described, 80)


def _rendered(rows: Listing, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(rows.table(width), crop=False)
    return console.export_text()


def test_durations_and_ages_read_as_kubectl_shows_them() -> None:
    assert [timing.duration(s) for s in (0.421, 9.06, 42.9, 185, 7620, 273600)] == [
        "0.42s",
        "9.1s",
        "42s",
        "3m05s",
        "2h07m",
        "3d04h",
    ]
    assert timing.duration(None) == "-"
    now = dt.datetime(2024, 1, 15, 12, 0, 0, tzinfo=dt.UTC)
    assert timing.age("2024-01-15T11:59:48Z", now) == "12s"
    assert timing.age("2024-01-15T11:55:00.5Z", now) == "4m"
    assert timing.age("2024-01-13T12:00:00+00:00", now) == "2d"
    assert timing.age(None, now) == "-" and timing.age("not a time", now) == "-"
    assert timing.age("2024-01-15T12:00:30Z", now) == "0s"  # a clock a little ahead
    assert timing.until("2024-01-16T11:00:00Z", now) == "23h"
    assert timing.until("2024-01-15T12:04:59Z", now) == "4m"
    assert timing.until("2024-01-15T12:00:00Z", now) == "past"
    assert timing.until("2024-01-14T12:00:00Z", now) == "past"
    assert timing.until(None, now) == "-"
    assert timing.took("2024-01-15T11:59:00Z", "2024-01-15T11:59:20Z") == "20s"
    assert timing.took("2024-01-15T11:59:00Z", None, now) == "1m00s+"  # still going


def test_phases_and_task_times_come_from_the_events() -> None:
    def event(kind: str, second: float, task: str | None = None) -> dict[str, object]:
        return {"eventType": kind, "taskId": task, "createdAt": f"2024-01-15T12:00:{second:06.3f}Z"}

    events = [
        event("RUN_STARTED", 0),
        event("PLAN_CREATED", 0.1),
        event("TASK_STARTED", 1, "task_001"),
        event("TASK_FAILED", 2, "task_001"),
        event("TASK_STARTED", 3, "task_001"),  # the second attempt
        event("TASK_COMPLETED", 4.5, "task_001"),
        event("TASK_STARTED", 5, "task_002"),
        event("MERGE_STARTED", 6),
        event("MERGE_COMPLETED", 6.5),
        event("VERIFICATION_STARTED", 7),
        event("RUN_COMPLETED", 9),
    ]
    found = phases(events)
    assert [(p["phase"], p["durationSeconds"]) for p in found] == [
        ("decomposing", 0.1),
        ("executing", 5.9),
        ("merging", 1.0),
        ("verifying", 2.0),
    ]
    assert phases(events[:4])[-1]["completedAt"] is None  # still executing
    times = task_times(events)
    assert times["task_001"] == ("2024-01-15T12:00:01.000Z", "2024-01-15T12:00:04.500Z")
    assert times["task_002"] == ("2024-01-15T12:00:05.000Z", None)
    # describe's document: the tasks' times to the millisecond, counted from the first event.
    run = {
        "id": "run_a",
        "startedAt": "2024-01-15T12:00:00Z",
        "completedAt": "2024-01-15T12:00:09Z",
    }
    tasks = [
        {
            "id": "task_001",
            "startedAt": "2024-01-15T12:00:03Z",
            "completedAt": "2024-01-15T12:00:04Z",
        },
        {"id": "task_002", "startedAt": None, "completedAt": None},
        {"id": "task_003", "startedAt": "2024-01-15T12:00:08Z", "completedAt": None},
    ]
    described = document({**run, "specSnapshot": {}, "tasks": []}, tasks, events)
    assert "specSnapshot" not in described and described["durationSeconds"] == 9
    # The run's own times are whole seconds; its events, which the phases come from,
    # are to the millisecond, and its duration is taken from them when they show its end.
    late = [*events[:-1], event("RUN_COMPLETED", 9.75)]
    assert document({**run}, tasks, late)["durationSeconds"] == 9.75
    assert document({**run}, tasks, events[:4])["durationSeconds"] == 9  # no end event
    assert [
        (t["id"], t["startOffsetSeconds"], t["durationSeconds"]) for t in described["tasks"]
    ] == [
        ("task_001", 1.0, 3.5),  # both attempts
        ("task_002", 5.0, None),  # still running
        ("task_003", 8.0, None),  # no events for it: the task's own times
    ]
    assert [p["startOffsetSeconds"] for p in described["phases"]] == [0, 0.1, 6, 7]


def test_spec_documents_in_reading_order_and_picked_loosely() -> None:
    documents = {"ACCEPTANCE.md": "", "NOTES.md": "", "SPEC.md": "", "DATA.md": ""}
    assert spec.ordered(documents) == ["SPEC.md", "DATA.md", "ACCEPTANCE.md", "NOTES.md"]
    for name in ("DATA.md", "data", "Data.md", "DATA"):
        assert spec.pick(documents, name) == "DATA.md"
    with pytest.raises(CliError) as missing:
        spec.pick(documents, "routes")
    assert missing.value.exit_code == 4 and "SPEC.md, DATA.md" in missing.value.message


def test_yaml_output_keeps_multi_line_text_readable() -> None:
    value = {"data": {"content": "# Title\n\nline two\n", "id": "proj_a", "n": 3, "x": None}}
    text = to_yaml(value)
    assert "content: |\n" in text and "    # Title\n" in text
    assert yaml.safe_load(text) == value
    streamed = to_yaml({"event": 1}, start=True) + to_yaml({"event": 2}, start=True)
    assert list(yaml.safe_load_all(streamed)) == [{"event": 1}, {"event": 2}]


def test_the_current_project_lives_with_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRAZIUM_PROJECT", raising=False)
    for name in ("PRAZIUM_API_URL", "PRAZIUM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "config.json"
    config.save(path, "http://h:3001", "pzm_a")
    config.update(path, project="proj_x")
    assert config.load(path).project == "proj_x"
    config.save(path, "http://h:3001/v1", "pzm_a")  # the same API and key: kept
    assert config.load(path).project == "proj_x"
    monkeypatch.setenv("PRAZIUM_PROJECT", "proj_env")
    assert config.load(path).project == "proj_env"
    config.save(path, "http://h:3001", "pzm_b")  # another key: forgotten
    assert "project" not in json.loads(path.read_text())
    assert config.update(path, apiKey=None) == {"apiUrl": "http://h:3001"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_live_preview_ends_the_wait_with_its_url(capsys: pytest.CaptureFixture[str]) -> None:
    """The live outcome of --wait (the integration tests have no node to run a preview)."""
    live = {
        "id": "dep_0123456789",
        "status": "live",
        "provider": "kubernetes",
        "url": "http://127.0.0.1:30080",
        "runId": "run_a-r1",
        "createdAt": "2024-01-15T12:00:00Z",
    }
    assert previews.describe(live).endswith("\nhttp://127.0.0.1:30080")
    previews.settled(live, Format.json)
    assert json.loads(capsys.readouterr().out) == {"data": live}
    for status in ("failed", "stopped"):
        with pytest.raises(CliError) as refused:
            previews.settled({**live, "status": status, "url": None}, Format.text)
        assert refused.value.code == "DEPLOY_FAILED" and refused.value.exit_code == 1
