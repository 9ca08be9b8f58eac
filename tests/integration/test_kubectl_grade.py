"""kubectl-grade resources: what a kubectl user sees of a build, end to end.

explain shows every field's description; get shows reason, message and duration;
wait works on Tasks; describe stays short (the spec, plan details and test output
are in the repository, the Tasks and the journal, not in status); Projects and
Runs tell their story in human-readable Events; no host path reaches status or an
API answer; the operator logs with the API's severity key; and deleting a Run, a
Project or the whole namespace removes their files from the volume.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg
import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from prazium_kit import ids, paths
from tests.support.build import (
    get,
    kubectl_apply,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.services import ServiceProcess, Stack, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECT, RUN = "todo-answered", "todo-answered-build"
# `kubectl describe run` of a finished build printed 373 lines when the spec
# documents, the plan and the test output lived in status. Without them a Run's
# description is a fixed part (metadata, spec, conditions, counts, the verify
# command, events) plus a few lines per task (its id and slug, its merge order).
DESCRIBE_RUN_FIXED_LINES = 100
DESCRIBE_RUN_LINES_PER_TASK = 4


def kubectl(stack: Stack, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [stack.kubectl, "--kubeconfig", stack.kubeconfig, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check:
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
    return result


def test_explain_shows_a_description_for_the_project_spec(stack: Stack) -> None:
    spec = kubectl(stack, "explain", "project.spec").stdout
    assert "What the user wants built" in spec
    assert "Human-readable name of the application" in spec  # displayName
    nested = kubectl(stack, "explain", "task.status.executor.pod").stdout
    assert "kubectl logs" in nested
    conditions = kubectl(stack, "explain", "run.status.conditions.reason").stdout
    assert "CamelCase" in conditions


def _event_list(namespace: str, name: str | None = None) -> list[client.CoreV1Event]:
    selector = f"involvedObject.name={name}" if name else None
    return list(client.CoreV1Api().list_namespaced_event(namespace, field_selector=selector).items)


def _columns(table: str) -> list[str]:
    return re.split(r"\s{2,}", table.splitlines()[0].strip())


def test_a_build_reads_well_in_kubectl_and_leaves_no_host_path_or_file_behind(
    stack: Stack,
    namespace: str,
    operator: ServiceProcess,
    data_dir: Path,
    client_for: Callable[[str], httpx.Client],
    api_key: str,
) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-answered.yaml")
    wait_phase(namespace, "projects", PROJECT, {"approved"}, operator)
    kubectl_apply(stack, namespace, EXAMPLES / "run.yaml")
    run = wait_run_done(namespace, RUN, operator)
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    journal = wait_final_event(stack.database_url, namespace, RUN, operator)
    tasks = tasks_of(namespace, RUN)

    # The category lists all three kinds (the discovery cache was refreshed by make up).
    listed = kubectl(stack, "get", "prazium", "-A").stdout
    assert f"project.prazium.io/{PROJECT}" in listed and f"run.prazium.io/{RUN}" in listed

    # Printer columns: reason and duration by default, message in -o wide for runs.
    runs = kubectl(stack, "-n", namespace, "get", "pzrun", "-o", "wide").stdout
    assert {"REASON", "DURATION", "STARTED", "MESSAGE", "AGE"} <= set(_columns(runs)), runs
    assert re.search(r"\bSucceeded\s+\d+(h\d+m|m\d+s|s)\b", runs), runs
    assert run["status"]["duration"]
    task_table = kubectl(stack, "-n", namespace, "get", "pztask").stdout
    assert {"REASON", "DURATION", "MESSAGE"} <= set(_columns(task_table)), task_table
    assert task_table.count("Succeeded") == len(tasks), task_table
    projects = kubectl(stack, "-n", namespace, "get", "pzproj").stdout
    assert "REASON" in _columns(projects) and "Built" in projects, projects

    # Tasks can be waited on like any kstatus resource.
    waited = kubectl(
        stack, "-n", namespace, "wait", "--for=condition=Ready", "pztask", "--all", "--timeout=30s"
    )
    assert waited.stdout.count("condition met") == len(tasks), waited.stdout

    # describe stays short: no spec documents, no plan details, no test output in status.
    described = kubectl(stack, "-n", namespace, "describe", "run", RUN).stdout
    lines = described.splitlines()
    print(f"kubectl describe run: {len(lines)} lines, {len(tasks)} tasks")
    assert len(lines) <= DESCRIBE_RUN_FIXED_LINES + DESCRIBE_RUN_LINES_PER_TASK * len(tasks), (
        described
    )
    status = run["status"]
    assert set(status["specSnapshot"]) == {"version", "commitSha"}
    assert "outputTail" not in status["verificationResult"]
    assert all(set(task) == {"id", "slug"} for task in status["plan"]["tasks"])
    # ... they are one reference away: the journal holds the test output.
    verified = next(e for e in journal if e["type"] == "VERIFICATION_COMPLETED")
    assert (
        "Ran " in verified["payload"]["outputTail"] or "passed" in verified["payload"]["outputTail"]
    )

    # Events tell the story in words.
    project_reasons = [e.reason for e in _event_list(namespace, PROJECT)]
    assert {"QuestionsReady", "SpecWritten", "Approved"} <= set(project_reasons), project_reasons
    run_reasons = {e.reason for e in _event_list(namespace, RUN)}
    assert {"RunStarted", "Merged", "Verified", "RunSucceeded"} <= run_reasons, run_reasons
    started = [
        e
        for e in _event_list(namespace)
        if e.reason == "Started" and e.involved_object.kind == "Task"
    ]
    assert len(started) >= len(tasks)
    for event in _event_list(namespace):
        assert "{'" not in event.message and "':" not in event.message, event.message
    assert all("in local process " in e.message for e in started), started[0].message

    # No host path in any status or API answer.
    host = str(data_dir)
    project = get(namespace, "projects", PROJECT)
    assert project is not None
    assert project["status"]["repoPath"] == f"repos/{namespace}/{PROJECT}.git"
    assert (data_dir / project["status"]["repoPath"] / "HEAD").exists()
    for obj in (project, run, *tasks):
        assert host not in json.dumps(obj["status"]), obj["metadata"]["name"]
    assert tasks[0]["status"]["worktreePath"].startswith(f"workspaces/{namespace}/{PROJECT}/")
    http = client_for(api_key)
    project_id, run_id = ids.project_id(PROJECT), ids.run_id(RUN)
    answers = [
        http.get("/projects"),
        http.get(f"/projects/{project_id}"),
        http.get(f"/projects/{project_id}/runs"),
        http.get(f"/projects/{project_id}/runs/{run_id}"),
        http.get(f"/projects/{project_id}/runs/{run_id}/tasks"),
        http.get(f"/projects/{project_id}/runs/{run_id}/tasks/{ids.task_id('task-001')}"),
        http.get(f"/projects/{project_id}/runs/{run_id}/events"),
    ]
    for answer in answers:
        assert answer.status_code == 200, (answer.url, answer.text)
        assert host not in answer.text, answer.url
    detail = answers[3].json()["data"]
    # The API still answers the whole snapshot and plan, read from repository and Tasks.
    assert set(detail["specSnapshot"]["documents"]) == {
        "SPEC.md",
        "ACCEPTANCE.md",
        "ROUTES.md",
        "DATA.md",
    }
    assert all(task["pathScope"] for task in detail["tasksJson"]["tasks"])
    assert answers[1].json()["data"]["repoPath"] == f"repos/{namespace}/{PROJECT}.git"

    # An export of the run: its archive goes with the Project (below, with the namespace).
    export = http.post(f"/projects/{project_id}/export", json={"runId": run_id, "format": "zip"})
    assert export.status_code == 202, export.text
    export_url = f"/projects/{project_id}/exports/{export.json()['data']['id']}"
    wait_for(
        lambda: http.get(export_url).json()["data"]["status"] == "completed",
        60,
        "the export to complete",
        operator,
        interval=0.5,
    )
    assert any(paths.exports_dir(data_dir, namespace).iterdir())

    # The operator logs with the API's severity key.
    records = [
        json.loads(line)
        for line in operator.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    assert records and all("level" in r and "severity" not in r for r in records)

    # Deleting the Run removes its worktrees and results; deleting the namespace the rest.
    results = paths.run_results(data_dir, namespace, RUN)
    assert results.exists()
    kubectl(stack, "-n", namespace, "delete", "run", RUN, "--wait=true", "--timeout=60s")
    assert not results.exists()
    assert not (paths.project_workspace(data_dir, namespace, PROJECT) / RUN).exists()
    assert (data_dir / project["status"]["repoPath"]).exists()  # the Project keeps its repo
    client.CoreV1Api().delete_namespace(namespace)

    def namespace_gone() -> bool:
        try:
            client.CoreV1Api().read_namespace(namespace)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(namespace_gone, 120, f"namespace {namespace} to be deleted", operator, interval=0.5)
    left = [
        p.relative_to(data_dir).as_posix()
        for top in ("repos", "workspaces", "results", "exports")
        for p in (data_dir / top / namespace,)
        if p.exists()
    ]
    assert left == [], left
    with psycopg.connect(stack.database_url) as conn:
        records = conn.execute("SELECT id FROM exports WHERE namespace = %s", (namespace,))
        assert records.fetchall() == []
