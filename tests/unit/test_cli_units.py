"""The CLI's pure parts: config file, answer parsing, the task graph's layout, and
that it imports nothing of the server side."""

from __future__ import annotations

import ast
import stat
from pathlib import Path

import pytest

from prazium_cli import config
from prazium_cli.errors import CliError
from prazium_cli.graph import RunView, layout
from prazium_cli.projects import parse_answer

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
