"""Repair rounds end to end: a run whose merged app fails its tests gets a repair Task.

The coder is the `command` coder of tests/support/repair_coder.py: the template
coder on each task (so the app is the real one), except that task-004 appends a
test that fails; its repair command (it knows the repair from PRAZIUM_TASK_JSON's
role) removes that test, after checking that the verification's output reached it.
"""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client

from tests.conftest import _heartbeat_seen
from tests.support.build import (
    create,
    events,
    git,
    kubectl_apply,
    patch_spec,
    tasks_of,
    wait_final_event,
    wait_phase,
    wait_run_done,
)
from tests.support.llm_standin import template_answer
from tests.support.openai_standin import OpenAIStandin
from tests.support.providers import OPENAI, env_for
from tests.support.repair_coder import BROKEN_MARKER, BROKEN_TEST, Mode, coder
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECT = "notes-gitops"


def _project(stack: Stack, namespace: str, operator: ServiceProcess, **spec: Any) -> Path:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    project = wait_phase(namespace, "projects", PROJECT, {"approved"}, operator)
    if spec:
        patch_spec(namespace, "projects", PROJECT, spec)
    return Path(str(project["status"]["repoPath"]))


def _run(namespace: str, name: str, mode: Mode, **spec: Any) -> None:
    create(
        namespace,
        "runs",
        "Run",
        name,
        {
            "projectRef": {"name": PROJECT},
            "agent": {"coder": "command", "command": coder(mode)},
            **spec,
        },
    )


STORY = {
    "TASK_STARTED",
    "TASK_COMPLETED",
    "TASK_FAILED",
    "MERGE_STARTED",
    "MERGE_COMPLETED",
    "VERIFICATION_STARTED",
    "VERIFICATION_COMPLETED",
    "REPAIR_STARTED",
    "RUN_COMPLETED",
    "RUN_FAILED",
}


def _story(journal: list[dict[str, Any]]) -> list[str]:
    """The run's journal from its first merge on, as `TYPE` or `TYPE task`."""
    first = next(i for i, e in enumerate(journal) if e["type"] == "MERGE_STARTED")
    return [
        f"{e['type']} {e['task']}" if e["task"] else e["type"]
        for e in journal[first:]
        if e["type"] in STORY
    ]


def _k8s_reasons(namespace: str, name: str) -> list[str]:
    found = client.CoreV1Api().list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return [e.reason for e in found.items]


def test_a_failed_verification_is_repaired_in_one_round(
    stack: Stack,
    namespace: str,
    operator: ServiceProcess,
    data_dir: Path,
    client_for: Callable[[str], httpx.Client],
    make_key: Callable[..., str],
) -> None:
    repo = data_dir / _project(stack, namespace, operator)
    _run(namespace, "notes-repair", "break-and-fix")
    run = wait_run_done(namespace, "notes-repair", operator, timeout=180)
    status = run["status"]
    assert status["phase"] == "succeeded", status.get("message")
    assert status["message"] == "built and verified after 1 repair round"
    assert status["repair"] == {"round": 1, "maxRounds": 1}
    assert status["verificationResult"]["exitCode"] == 0
    assert status["verificationResult"]["failed"] == 0
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Succeeded")

    # The repair Task: in the plan after the others, from the merged commit, whole app.
    assert [t["id"] for t in status["plan"]["tasks"]][-1] == "task-005"
    assert status["plan"]["mergeOrder"][-1] == "task-005"
    tasks = {t["spec"]["definition"]["id"]: t for t in tasks_of(namespace, "notes-repair")}
    assert sorted(tasks) == ["task-001", "task-002", "task-003", "task-004", "task-005"]
    repair = tasks["task-005"]
    definition = repair["spec"]["definition"]
    assert definition["role"] == "repair" and definition["slug"] == "repair-1"
    assert definition["pathScope"] == ["**"] and definition["dependencies"] == ["task-004"]
    assert "test_deliberately_broken" in definition["instructions"]
    assert repair["spec"]["sequence"] == 5
    assert repair["status"]["phase"] == "succeeded"
    assert repair["status"]["branchName"] == "feat/run-1/task-005-repair-1"

    journal = wait_final_event(stack.database_url, namespace, "notes-repair", operator)
    first_merge = next(e for e in journal if e["type"] == "MERGE_COMPLETED")
    assert repair["status"]["baseCommit"] == first_merge["payload"]["mergedCommit"]
    assert _story(journal) == [
        "MERGE_STARTED",
        "MERGE_COMPLETED",
        "VERIFICATION_STARTED",
        "VERIFICATION_COMPLETED",
        "REPAIR_STARTED",
        "TASK_STARTED task-005",
        "TASK_COMPLETED task-005",
        "MERGE_STARTED",
        "MERGE_COMPLETED",
        "VERIFICATION_STARTED",
        "VERIFICATION_COMPLETED",
        "RUN_COMPLETED",
    ]
    verdicts = [e["payload"] for e in journal if e["type"] == "VERIFICATION_COMPLETED"]
    assert [v["exitCode"] != 0 for v in verdicts] == [True, False]
    assert "test_deliberately_broken" in verdicts[0]["outputTail"]
    assert [v.get("repairRound") for v in verdicts] == [None, 1]
    started = next(e for e in journal if e["type"] == "REPAIR_STARTED")["payload"]
    assert started["repairRound"] == 1 and started["taskId"] == "task_005"
    assert started["verification"]["failed"] == 1
    queued = [e["task"] for e in journal if e["type"] == "TASK_QUEUED"]
    assert queued[-1] == "task-005"

    # The fix is on main, after the broken test was merged first.
    smoke = git(repo, "show", "main:tests/test_smoke.py")
    assert BROKEN_MARKER not in smoke and "class SmokeTest" in smoke
    assert BROKEN_MARKER in git(
        repo, "show", f"{first_merge['payload']['mergedCommit']}:tests/test_smoke.py"
    )
    assert git(repo, "rev-parse", "main").strip() == status["mergedCommit"]
    assert "task-005 repair-1: " in git(repo, "log", "--format=%s", "main")

    reasons = _k8s_reasons(namespace, "notes-repair")
    for reason in ("VerificationFailed", "RepairStarted", "Verified", "RunSucceeded"):
        assert reason in reasons, reasons

    # kubectl lists it like any other Task; the API's task list and run answer too.
    listed = subprocess.run(
        [stack.kubectl, "--kubeconfig", stack.kubeconfig, "-n", namespace, "get", "pztask"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "notes-repair-task-005" in listed and "repair-1" in listed
    http = client_for(make_key(namespace, "enterprise"))
    base = f"/projects/proj_{PROJECT}/runs/run_notes-repair"
    answer = http.get(base).json()["data"]
    brief = {t["id"]: t for t in answer["tasks"]}
    assert brief["task_005"]["role"] == "repair" and brief["task_005"]["status"] == "succeeded"
    assert "role" not in brief["task_001"]
    assert [t["id"] for t in answer["tasksJson"]["tasks"]][-1] == "task-005"
    assert answer["tasksJson"]["tasks"][-1]["role"] == "repair"
    listed_api = {t["id"]: t for t in http.get(f"{base}/tasks").json()["data"]}
    assert listed_api["task_005"]["definition"]["pathScope"] == ["**"]
    assert listed_api["task_005"]["definition"]["role"] == "repair"


def test_repair_turned_off_on_the_run_fails_as_before(
    stack: Stack, namespace: str, operator: ServiceProcess
) -> None:
    # The Project allows two rounds; the Run's own 0 wins.
    _project(stack, namespace, operator, repair={"maxRounds": 2})
    _run(namespace, "notes-norepair", "break-and-fix", repair={"maxRounds": 0})
    run = wait_run_done(namespace, "notes-norepair", operator, timeout=120)
    status = run["status"]
    assert status["phase"] == "failed"
    assert status["message"].startswith("verification failed: ")
    assert "1 failed" in status["message"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "Failed"
    assert not status.get("repair")
    assert len(tasks_of(namespace, "notes-norepair")) == 4
    journal = wait_final_event(stack.database_url, namespace, "notes-norepair", operator)
    assert "REPAIR_STARTED" not in {e["type"] for e in journal}
    assert journal[-1]["type"] == "RUN_FAILED"


def test_spent_repair_rounds_fail_the_run_with_their_reason(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path
) -> None:
    repo = data_dir / _project(stack, namespace, operator, repair={"maxRounds": 2})
    _run(namespace, "notes-spent", "break-only")
    run = wait_run_done(namespace, "notes-spent", operator, timeout=240)
    status = run["status"]
    assert status["phase"] == "failed"
    assert status["message"].startswith("verification failed after 2 repair rounds: ")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RepairRoundsExhausted")
    assert status["repair"] == {"round": 2, "maxRounds": 2}
    tasks = {t["spec"]["definition"]["id"]: t for t in tasks_of(namespace, "notes-spent")}
    assert [tasks[t]["spec"]["definition"]["slug"] for t in ("task-005", "task-006")] == [
        "repair-1",
        "repair-2",
    ]
    assert tasks["task-006"]["spec"]["definition"]["dependencies"] == ["task-005"]
    assert {t["status"]["phase"] for t in tasks.values()} == {"succeeded"}
    journal = wait_final_event(stack.database_url, namespace, "notes-spent", operator)
    story = _story(journal)
    assert story.count("REPAIR_STARTED") == 2
    assert story.count("VERIFICATION_COMPLETED") == 3
    assert story[-1] == "RUN_FAILED"
    final = journal[-1]["payload"]
    assert final["reason"] == "RepairRoundsExhausted" and "2 repair rounds" in final["message"]
    # Each round's commit reached main: the second repair started from the first's merge.
    files = git(repo, "ls-tree", "-r", "--name-only", "main").split()
    assert {"repair-notes/repair-1.txt", "repair-notes/repair-2.txt"} <= set(files)
    assert "RepairStarted" in _k8s_reasons(namespace, "notes-spent")


def test_an_operator_killed_as_the_repair_round_starts_resumes_it_once(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path, tmp_path: Path
) -> None:
    _project(stack, namespace, operator)
    _run(namespace, "notes-crash", "break-and-fix")

    def repair_started() -> bool:
        journal = events(stack.database_url, namespace, "notes-crash")
        return any(e["type"] == "REPAIR_STARTED" for e in journal)

    wait_for(repair_started, 180, "the repair round to start", operator, interval=0.02)
    operator.kill()  # SIGKILL somewhere between the round's event and its status write
    restarted = start_operator(stack, data_dir, [namespace], tmp_path / "logs-restarted")
    try:
        run = wait_run_done(namespace, "notes-crash", restarted, timeout=180)
        journal = wait_final_event(stack.database_url, namespace, "notes-crash", restarted)
    finally:
        restarted.stop()
    assert run["status"]["phase"] == "succeeded", run["status"].get("message")
    assert run["status"]["repair"] == {"round": 1, "maxRounds": 1}
    assert len(tasks_of(namespace, "notes-crash")) == 5
    counts = Counter(e["type"] for e in journal)
    assert counts["REPAIR_STARTED"] == 1
    assert counts["MERGE_COMPLETED"] == 2
    assert counts["RUN_COMPLETED"] == 1 and journal[-1]["type"] == "RUN_COMPLETED"
    assert sum(e["type"] == "TASK_COMPLETED" and e["task"] == "task-005" for e in journal) == 1
    # A verification the old operator ran may be run again (keyed: written once per round).
    verdicts = [e["payload"] for e in journal if e["type"] == "VERIFICATION_COMPLETED"]
    assert [v["exitCode"] == 0 for v in verdicts] == [False, True]


SMOKE = "tests/test_smoke.py"
KEY = "sk-test-integration-repair-9d2a7c"


class BreakThenRepairStandin(OpenAIStandin):
    """The OpenAI stand-in answering task-004 with a failing test added, and a repair
    request with that file as the request itself shows it, minus the failing test (a
    coder that showed the repair no files gets no fix)."""

    def __init__(self, api_key: str) -> None:
        super().__init__(api_key)
        self.repairs: list[dict[str, Any]] = []

    def respond(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        schema, inputs = self.schema_and_inputs(body)
        task = inputs.get("task") or {}
        if schema != "files" or (task.get("id") != "task-004" and task.get("role") != "repair"):
            return super().respond(headers, body)
        with self._lock:
            self.requests.append({"headers": headers, "body": body})
        refused = self.refusal(headers, body)
        if refused is not None:
            return refused
        if task.get("role") == "repair":
            self.repairs.append(inputs)
            shown = inputs["currentFiles"].get(SMOKE, "")
            if BROKEN_MARKER in shown:
                fix = {"path": SMOKE, "content": shown.split(BROKEN_MARKER)[0].rstrip() + "\n"}
            else:
                fix = {"path": "repair-notes.txt", "content": "nothing to go on\n"}
            return 200, self.envelope({"files": [{**fix, "executable": False}]}, body)
        answer = template_answer(schema, inputs)
        for file in answer["files"]:
            if file["path"] == SMOKE:
                file["content"] += BROKEN_TEST
        return 200, self.envelope(answer, body)


def test_the_openai_coder_repairs_from_the_test_output_and_the_app_files(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    with BreakThenRepairStandin(KEY) as standin:
        env = env_for(OPENAI, standin.base_url, KEY, "standin-1")
        operator = start_operator(stack, data_dir, [namespace], tmp_path / "logs", **env)
        try:
            wait_for(
                lambda: _heartbeat_seen(stack.database_url, operator.pid), 30, "heartbeat", operator
            )
            example = yaml.safe_load((EXAMPLES / "project-gitops.yaml").read_text())
            spec = {**example["spec"], "agent": {"coder": "openai", "model": "standin-1"}}
            create(namespace, "projects", "Project", PROJECT, spec)
            wait_phase(namespace, "projects", PROJECT, {"approved"}, operator)
            create(namespace, "runs", "Run", "notes-llm", {"projectRef": {"name": PROJECT}})
            run = wait_run_done(namespace, "notes-llm", operator, timeout=180)
        finally:
            operator.stop()
    status = run["status"]
    assert status["phase"] == "succeeded", status.get("message")
    assert status["message"] == "built and verified after 1 repair round"
    assert len(standin.repairs) == 1
    asked = standin.repairs[0]
    assert asked["task"]["role"] == "repair" and asked["task"]["pathScope"] == ["**"]
    assert "test_deliberately_broken" in asked["task"]["instructions"]
    # The one-shot coder shows a repair the app's files (it has no expected outputs).
    assert BROKEN_MARKER in asked["currentFiles"][SMOKE]
    assert {"app/server.py", "run.sh"} <= set(asked["currentFiles"])
    assert not any(path.startswith(".git/") for path in asked["currentFiles"])
    coded = [standin.schema_and_inputs(r["body"]) for r in standin.requests]
    assert [inputs["task"]["id"] for kind, inputs in coded if kind == "files"] == [
        "task-001",
        "task-002",
        "task-003",
        "task-004",
        "task-005",
    ]


def test_the_apiserver_refuses_repair_rounds_out_of_range(namespace: str) -> None:
    for rounds in (-1, 11, "two"):
        for plural, kind, spec in (
            ("runs", "Run", {"projectRef": {"name": PROJECT}}),
            ("projects", "Project", {"displayName": "N", "description": "A notes application"}),
        ):
            with pytest.raises(client.ApiException) as refused:
                create(
                    namespace,
                    plural,
                    kind,
                    f"bad-{plural}",
                    {**spec, "repair": {"maxRounds": rounds}},
                )
            assert refused.value.status == 422, refused.value.body
            assert "maxRounds" in refused.value.body
    created = create(
        namespace,
        "runs",
        "Run",
        "fine",
        {"projectRef": {"name": PROJECT}, "repair": {"maxRounds": 10}, "reuse": False},
    )
    assert created["spec"]["repair"] == {"maxRounds": 10} and created["spec"]["reuse"] is False
    defaulted = create(namespace, "runs", "Run", "defaulted", {"projectRef": {"name": PROJECT}})
    assert defaulted["spec"]["reuse"] is True and "repair" not in defaulted["spec"]
