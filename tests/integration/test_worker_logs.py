"""A real worker process logs JSON lines naming its namespace, run, task and attempt.

The local executor sends a worker's stdout and stderr to
<data>/results/<namespace>/<run>/<task>-<attempt>.log (worker_contract.log_path);
here the worker runs the same way, as `python -m prazium_operator.worker`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from prazium_kit import paths
from prazium_operator import gitrepo
from prazium_operator.worker_contract import WorkerRequest, log_path, request_path
from tests.support.services import ROOT, Stack

pytestmark = pytest.mark.integration


def _run_worker(
    stack: Stack, data_dir: Path, namespace: str, run: str, attempt: int, command: str
) -> tuple[int, list[dict[str, object]]]:
    repo = paths.repo_path(data_dir, namespace, "shop")
    if not repo.exists():
        gitrepo.init_bare(repo)
    base = gitrepo.rev_parse(repo, "main")
    assert base
    result = paths.result_path(data_dir, namespace, run, "task-001", attempt)
    request = WorkerRequest(
        namespace=namespace,
        project="shop",
        run=run,
        task={
            "id": "task-001",
            "slug": "shell",
            "description": "App shell",
            "pathScope": ["app/**"],
            "dependencies": [],
        },
        documents={},
        repo_path=str(repo),
        worktree=str(paths.task_worktree(data_dir, namespace, "shop", run, "task-001")),
        branch=f"feat/{run}/task-001-shell",
        base_commit=base,
        attempt=attempt,
        result_path=str(result),
        coder="command",
        coder_options={"command": command},
    )
    result.parent.mkdir(parents=True, exist_ok=True)
    request_path(result).write_text(request.to_json())
    env = stack.service_env(data_dir)
    with log_path(result).open("ab") as output:
        code = subprocess.run(
            [
                sys.executable,
                "-m",
                "prazium_operator.worker",
                "--request",
                str(request_path(result)),
            ],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=output,
            timeout=120,
            check=False,
        ).returncode
    lines = [line for line in log_path(result).read_text().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"worker log line is not JSON: {line!r}")
    return code, records


def test_worker_log_lines_are_json_with_run_task_and_attempt(stack: Stack, data_dir: Path) -> None:
    namespace, run = f"t-{uuid.uuid4().hex[:10]}", "shop-1"
    ok, records = _run_worker(
        stack, data_dir, namespace, run, 1, "mkdir -p app && echo hi > app/main.py"
    )
    assert ok == 0, records
    failed, failed_records = _run_worker(
        stack, data_dir, namespace, run, 2, "echo 'agent broke' >&2; exit 3"
    )
    assert failed == 1, failed_records

    for attempt, lines in ((1, records), (2, failed_records)):
        assert len(lines) >= 2, lines  # started, then succeeded / failed
        for record in lines:
            assert {"timestamp", "level", "logger", "message"} <= record.keys(), record
            assert record["namespace"] == namespace and record["run"] == run, record
            assert record["task"] == "task-001" and record["attempt"] == attempt, record
    assert records[-1]["status"] == "succeeded" and records[-1]["commit"]
    assert failed_records[-1]["status"] == "failed"
    assert "agent broke" in failed_records[-1]["error"]
    # The crash is logged with its traceback, on a line of its own attempt.
    assert any("exc_info" in r and r["level"] == "ERROR" for r in failed_records)
