"""Untrusted code's channel and environment (what a worker runs may be steered by a
description or written by a tenant, so it gets no platform credential): what a
worker's files may put in the journal, and what the local sandbox hands to a command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prazium_operator import recorder, sandbox

IDENTITY = recorder.WorkerIdentity(
    namespace="t1",
    project="shop",
    run="shop-1",
    task="task-002",
    attempt=2,
    slug="api",
    branch="prazium/run-1/task-002-api",
)


def test_forged_worker_events_only_ever_speak_for_their_own_task() -> None:
    forged = [
        # Another tenant's run, a run's final event, a fake attempt: all rewritten or dropped.
        {
            "namespace": "t2",
            "project": "bank",
            "run": "bank-9",
            "task": "task-001",
            "type": "TASK_STARTED",
            "payload": {"attempt": 99, "secret": "x"},
            "key": "t2/bank-9/task-001/TASK_STARTED/99",
        },
        {"type": "RUN_SUCCEEDED", "payload": {}, "key": "k"},
        {"type": "FILE_CREATED", "payload": {"path": "a.py", "size": 3, "extra": "y"}},
        {"type": "FILE_MODIFIED", "payload": {"path": 7}},
        {"type": "FILE_MODIFIED", "payload": {"path": "x" * 5000}},
        "not an object",
    ]
    accepted = recorder.worker_events(forged, IDENTITY)  # type: ignore[arg-type]
    assert [e["type"] for e in accepted] == ["TASK_STARTED", "FILE_CREATED"]
    for item in accepted:
        assert (item["namespace"], item["project"], item["run"], item["task"]) == (
            "t1",
            "shop",
            "shop-1",
            "task-002",
        )
    assert accepted[0]["payload"] == {
        "taskId": "task_002",
        "slug": "api",
        "attempt": 2,
        "branch": "prazium/run-1/task-002-api",
    }
    assert accepted[0]["key"] == "t1/shop-1/task-002/TASK_STARTED/2"
    assert accepted[1]["payload"] == {"taskId": "task_002", "path": "a.py", "size": 3}


def test_event_and_result_files_are_never_read_through_a_symlink(tmp_path: Path) -> None:
    from prazium_operator.worker_contract import read_result

    secret = tmp_path / "secret.json"
    secret.write_text('{"error": "an operator secret"}')
    planted = tmp_path / "task-001-1.json"
    planted.symlink_to(secret)
    assert read_result(planted) is None
    events = recorder.events_path(planted)
    events.symlink_to(secret)
    assert recorder.read_event_file(events) == []


def test_the_local_worker_environment_keeps_no_platform_credential() -> None:
    operator_env = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "PRAZIUM_DATABASE_URL": "postgresql://prazium:pw@127.0.0.1/prazium",
        "PRAZIUM_KUBECONFIG": "/x/kubeconfig",
        "KUBECONFIG": "/x/kubeconfig",
        "AWS_SECRET_ACCESS_KEY": "a",
        "PRAZIUM_LOG_FORMAT": "json",
        "OPENAI_API_KEY": "sk-operator",
        "PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS": "true",
    }
    assert sandbox.worker_env(operator_env) == {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "PRAZIUM_LOG_FORMAT": "json",
        "OPENAI_API_KEY": "sk-operator",
        "PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS": "true",
    }
    # The command itself gets none of it: PATH, HOME, LANG and its task only.
    task = {"PRAZIUM_TASK_ID": "task-001"}
    env = sandbox.command_env(task, Path("/tmp/h"), sandbox.worker_env(operator_env))
    assert env == {
        "PATH": sandbox.SANDBOX_PATH,
        "HOME": "/tmp/h",
        "LANG": sandbox.SANDBOX_LANG,
        "PRAZIUM_TASK_ID": "task-001",
    }
    # In a worker Pod the tenant's own credentials (its envFrom) reach its coder.
    pod_env = {
        "PRAZIUM_WORKER_IN_POD": "true",
        "GIT_CONFIG_COUNT": "1",
        "MY_KEY": "tenant",
        "PATH": "/opt/prazium/bin:/usr/bin",
    }
    in_pod = sandbox.command_env(task, Path("/tmp"), pod_env)
    assert in_pod["MY_KEY"] == "tenant" and in_pod["PATH"] == "/opt/prazium/bin:/usr/bin"
    assert "GIT_CONFIG_COUNT" not in sandbox.command_env(task, Path("/tmp"), pod_env)


def test_sandbox_uids_are_unprivileged_and_apart() -> None:
    uids = {sandbox.sandbox_uid(f"t/p/r/task-{i:03}/1") for i in range(200)}
    assert len(uids) == 200
    assert all(u >= sandbox.UID_BASE for u in uids)


def test_copies_skip_git_and_special_files_and_keep_symlinks_as_links(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "pkg").mkdir(parents=True)
    (src / ".git").write_text("gitdir: /elsewhere")
    (src / "pkg" / ".git").mkdir()
    (src / "pkg" / ".git" / "config").write_text("[core]\n\tfsmonitor = evil")
    (src / "pkg" / "a.py").write_text("print(1)")
    (src / "link").symlink_to("/etc/hostname")
    os.mkfifo(src / "fifo")
    dst.mkdir()
    sandbox.copy_tree(src, dst, skip=(".git",))
    assert sorted(p.name for p in dst.iterdir()) == ["link", "pkg"]
    assert (dst / "link").is_symlink() and os.readlink(dst / "link") == "/etc/hostname"
    assert (dst / "pkg" / "a.py").read_text() == "print(1)"
    assert not (dst / "pkg" / ".git").exists()


def test_without_root_command_agents_are_refused_unless_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "is_root", lambda: False)
    with pytest.raises(sandbox.SandboxRefused, match="PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS"):
        sandbox.Sandbox.create("x", allow_unsandboxed=False)
    allowed = sandbox.Sandbox.create("x", allow_unsandboxed=True)
    try:
        assert allowed.uid is None and allowed.work.is_dir()
        assert allowed.root.stat().st_mode & 0o077 == 0
    finally:
        allowed.remove()
