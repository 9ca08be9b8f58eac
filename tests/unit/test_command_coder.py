"""The `command` coder, one agent among the others: found through the registry, and
its CLI run with the task in its environment and nothing of the platform's."""

from __future__ import annotations

from pathlib import Path

import pytest

from prazium_operator.agents import Coder, coder_names, get_coder
from prazium_operator.agents.base import PlanTask
from prazium_operator.agents.command import CommandCoder, CommandCoderError

TASK: PlanTask = {"id": "task-001", "slug": "shell", "pathScope": ["app/**"]}
WRITE = (
    'mkdir -p app && printf "%s|%s|%s" "$PRAZIUM_TASK_SLUG" "${MY_KEY:-no key}"'
    ' "${PRAZIUM_DATABASE_URL:-no dsn}" > app/out.txt'
)


def test_the_registry_serves_the_command_coder() -> None:
    assert "command" in coder_names()
    coder = get_coder("command", command="true", model="ignored")
    assert isinstance(coder, CommandCoder) and isinstance(coder, Coder)
    with pytest.raises(ValueError, match=r"agent\.command"):
        get_coder("command")


def test_in_a_worker_pod_the_command_gets_the_tenant_keys_and_no_platform_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRAZIUM_WORKER_IN_POD", "true")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MY_KEY", "tenant")
    monkeypatch.setenv("PRAZIUM_DATABASE_URL", "postgresql://operator")
    worktree = tmp_path / "wt"
    worktree.mkdir()
    get_coder("command", command=WRITE).code(TASK, {}, worktree)
    assert (worktree / "app" / "out.txt").read_text() == "shell|tenant|no dsn"


def test_locally_the_command_runs_in_a_private_copy_and_its_files_come_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRAZIUM_WORKER_IN_POD", raising=False)
    # As root a uid of its own; otherwise allowed as this single-tenant test's user.
    monkeypatch.setenv("PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS", "true")
    monkeypatch.setenv("MY_KEY", "operator's")
    monkeypatch.setenv("PRAZIUM_DATABASE_URL", "postgresql://operator")
    worktree = tmp_path / "wt"
    (worktree / ".git").mkdir(parents=True)
    (worktree / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (worktree / "stale.txt").write_text("removed by the command")
    command = f"rm stale.txt && test ! -e .git && {WRITE}"
    get_coder("command", command=command).code(TASK, {}, worktree)
    assert (worktree / "app" / "out.txt").read_text() == "shell|no key|no dsn"
    assert not (worktree / "stale.txt").exists()
    assert (worktree / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"


def test_a_failing_command_fails_the_task_with_its_last_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRAZIUM_WORKER_IN_POD", "true")
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(CommandCoderError, match=r"exited with 3: no tests here"):
        get_coder("command", command="echo no tests here; exit 3").code(TASK, {}, tmp_path)
