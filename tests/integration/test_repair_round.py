"""Repair rounds end to end: a run whose merged app fails its tests gets a repair Task.

The coder is the `command` coder of tests/support/repair_coder.py: the template
coder on each task (so the app is the real one), except that the smoke-tests task
appends a test that fails; its repair command (it knows the repair from
PRAZIUM_TASK_JSON's role) removes that test, after checking that the verification's
output reached it. The repair task's id, dependencies and place are worked out from
the notes example's plan (tests/support/plans.py), not written down.
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

from prazium_kit import ids
from tests.conftest import _heartbeat_seen
from tests.support.agent_sessions import Call, Reply, SessionView, Step, template_files
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
from tests.support.openai_standin import OpenAIStandin
from tests.support.plans import SMOKE_TESTS, PlanGraph, template_plan
from tests.support.providers import OPENAI, env_for
from tests.support.repair_coder import BROKEN_MARKER, Mode, coder
from tests.support.services import ServiceProcess, Stack, start_operator, wait_for

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PROJECT = "notes-gitops"


def _project(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path, **spec: Any
) -> tuple[Path, PlanGraph]:
    """The notes example approved (spec patched in): its repository and the plan the
    template planner makes for it."""
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    project = wait_phase(namespace, "projects", PROJECT, {"approved"}, operator)
    if spec:
        patch_spec(namespace, "projects", PROJECT, spec)
    repo = data_dir / str(project["status"]["repoPath"])
    return repo, template_plan(repo, project)


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
    repo, plan = _project(stack, namespace, operator, data_dir)
    [repair_id] = plan.next_ids()
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

    # The repair Task: in the plan after the others, from the merged commit, whole app,
    # following the plan's last tasks (those nothing depends on: the smoke tests).
    assert [t["id"] for t in status["plan"]["tasks"]] == [*plan.order, repair_id]
    assert status["plan"]["mergeOrder"][-1] == repair_id
    tasks = {t["spec"]["definition"]["id"]: t for t in tasks_of(namespace, "notes-repair")}
    assert PlanGraph.of_run(tasks.values()) == plan
    assert sorted(tasks) == sorted([*plan.order, repair_id])
    repair = tasks[repair_id]
    definition = repair["spec"]["definition"]
    assert definition["role"] == "repair" and definition["slug"] == "repair-1"
    assert plan.sinks() == [plan.by_slug(SMOKE_TESTS)]
    assert definition["pathScope"] == ["**"] and definition["dependencies"] == plan.sinks()
    assert "test_deliberately_broken" in definition["instructions"]
    assert repair["spec"]["sequence"] == len(plan) + 1
    assert repair["status"]["phase"] == "succeeded"
    assert repair["status"]["branchName"] == f"feat/run-1/{repair_id}-repair-1"

    journal = wait_final_event(stack.database_url, namespace, "notes-repair", operator)
    first_merge = next(e for e in journal if e["type"] == "MERGE_COMPLETED")
    assert repair["status"]["baseCommit"] == first_merge["payload"]["mergedCommit"]
    assert _story(journal) == [
        "MERGE_STARTED",
        "MERGE_COMPLETED",
        "VERIFICATION_STARTED",
        "VERIFICATION_COMPLETED",
        "REPAIR_STARTED",
        f"TASK_STARTED {repair_id}",
        f"TASK_COMPLETED {repair_id}",
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
    assert started["repairRound"] == 1 and started["taskId"] == ids.task_id(repair_id)
    assert started["verification"]["failed"] == 1
    queued = [e["task"] for e in journal if e["type"] == "TASK_QUEUED"]
    assert queued[-1] == repair_id

    # The fix is on main, after the broken test was merged first.
    smoke = git(repo, "show", "main:tests/test_smoke.py")
    assert BROKEN_MARKER not in smoke and "class SmokeTest" in smoke
    assert BROKEN_MARKER in git(
        repo, "show", f"{first_merge['payload']['mergedCommit']}:tests/test_smoke.py"
    )
    assert git(repo, "rev-parse", "main").strip() == status["mergedCommit"]
    assert f"{repair_id} repair-1: " in git(repo, "log", "--format=%s", "main")

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
    assert f"notes-repair-{repair_id}" in listed and "repair-1" in listed
    http = client_for(make_key(namespace, "enterprise"))
    base = f"/projects/proj_{PROJECT}/runs/run_notes-repair"
    answer = http.get(base).json()["data"]
    brief = {t["id"]: t for t in answer["tasks"]}
    repair_api_id = ids.task_id(repair_id)
    assert brief[repair_api_id]["role"] == "repair"
    assert brief[repair_api_id]["status"] == "succeeded"
    assert not any("role" in brief[ids.task_id(t)] for t in plan.order)
    assert [t["id"] for t in answer["tasksJson"]["tasks"]] == [*plan.order, repair_id]
    assert answer["tasksJson"]["tasks"][-1]["role"] == "repair"
    listed_api = {t["id"]: t for t in http.get(f"{base}/tasks").json()["data"]}
    assert listed_api[repair_api_id]["definition"]["pathScope"] == ["**"]
    assert listed_api[repair_api_id]["definition"]["role"] == "repair"


def test_repair_turned_off_on_the_run_fails_as_before(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path
) -> None:
    # The Project allows two rounds; the Run's own 0 wins.
    _, plan = _project(stack, namespace, operator, data_dir, repair={"maxRounds": 2})
    _run(namespace, "notes-norepair", "break-and-fix", repair={"maxRounds": 0})
    run = wait_run_done(namespace, "notes-norepair", operator, timeout=120)
    status = run["status"]
    assert status["phase"] == "failed"
    assert status["message"].startswith("verification failed: ")
    assert "1 failed" in status["message"]
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "Failed"
    assert not status.get("repair")
    tasks = tasks_of(namespace, "notes-norepair")
    assert len(tasks) == len(plan) and PlanGraph.of_run(tasks) == plan  # no repair task
    journal = wait_final_event(stack.database_url, namespace, "notes-norepair", operator)
    assert "REPAIR_STARTED" not in {e["type"] for e in journal}
    assert journal[-1]["type"] == "RUN_FAILED"


def test_spent_repair_rounds_fail_the_run_with_their_reason(
    stack: Stack, namespace: str, operator: ServiceProcess, data_dir: Path
) -> None:
    repo, plan = _project(stack, namespace, operator, data_dir, repair={"maxRounds": 2})
    first_repair, second_repair = plan.next_ids(2)
    _run(namespace, "notes-spent", "break-only")
    run = wait_run_done(namespace, "notes-spent", operator, timeout=240)
    status = run["status"]
    assert status["phase"] == "failed"
    assert status["message"].startswith("verification failed after 2 repair rounds: ")
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "RepairRoundsExhausted")
    assert status["repair"] == {"round": 2, "maxRounds": 2}
    tasks = {t["spec"]["definition"]["id"]: t for t in tasks_of(namespace, "notes-spent")}
    assert sorted(tasks) == sorted([*plan.order, first_repair, second_repair])
    assert [tasks[t]["spec"]["definition"]["slug"] for t in (first_repair, second_repair)] == [
        "repair-1",
        "repair-2",
    ]
    assert tasks[second_repair]["spec"]["definition"]["dependencies"] == [first_repair]
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
    _, plan = _project(stack, namespace, operator, data_dir)
    [repair_id] = plan.next_ids()
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
    assert len(tasks_of(namespace, "notes-crash")) == len(plan) + 1
    counts = Counter(e["type"] for e in journal)
    assert counts["REPAIR_STARTED"] == 1
    assert counts["MERGE_COMPLETED"] == 2
    assert counts["RUN_COMPLETED"] == 1 and journal[-1]["type"] == "RUN_COMPLETED"
    assert sum(e["type"] == "TASK_COMPLETED" and e["task"] == repair_id for e in journal) == 1
    # A verification the old operator ran may be run again (keyed: written once per round).
    verdicts = [e["payload"] for e in journal if e["type"] == "VERIFICATION_COMPLETED"]
    assert [v["exitCode"] == 0 for v in verdicts] == [False, True]


SMOKE = "tests/test_smoke.py"
KEY = "sk-test-integration-repair-9d2a7c"
# The smoke-tests task's model adds a test that holds only where the coding agent runs
# its commands (their environment names the task), so the task's own test run passes
# (finish is accepted) and the verification of the merged app fails.
SANDBOX_ONLY_TEST = (
    f"\n\n{BROKEN_MARKER} (a repair round removes it)\n"
    "import os as _os\n"
    "import unittest as _unittest\n\n\n"
    "class DeliberatelyBroken(_unittest.TestCase):\n"
    "    def test_deliberately_broken(self) -> None:\n"
    '        self.assertIn("PRAZIUM_TASK_ID", _os.environ)\n'
)


def _break_smoke_tests() -> list[Step]:
    """The smoke-tests task: the template's files with the sandbox-only test appended."""

    def write(view: SessionView) -> Reply:
        files = template_files(view.inputs)
        [smoke] = [f for f in files if f["path"] == SMOKE]
        smoke["content"] += SANDBOX_ONLY_TEST
        return Reply([Call("write_file", f) for f in files])

    def finish(view: SessionView) -> Reply:
        bad = [r.content for r in view.results if r.is_error]
        assert view.results and not bad, bad
        return Reply([Call("finish", {"summary": "wrote the smoke tests"})])

    return [write, finish]


def _repair(seen: list[SessionView]) -> list[Step]:
    """The repair task: look at the app's files, then rewrite the smoke tests as
    read_file showed them, minus the failing test (a file not shown gets no fix)."""

    def look(view: SessionView) -> Reply:
        seen.append(view)
        return Reply([Call("list_files"), Call("read_file", {"path": SMOKE})])

    def fix(view: SessionView) -> Reply:
        seen.append(view)
        shown = view.expect("read_file", error=False).content
        body = shown.split("\n", 1)[1] if shown.startswith(f"{SMOKE}: lines ") else ""
        if BROKEN_MARKER in body:
            fixed = {"path": SMOKE, "content": body.split(BROKEN_MARKER)[0].rstrip() + "\n"}
        else:
            fixed = {"path": "repair-notes.txt", "content": "nothing to go on\n"}
        return Reply([Call("write_file", {**fixed, "executable": False})])

    def finish(view: SessionView) -> Reply:
        view.expect("write_file", error=False)
        return Reply([Call("finish", {"summary": "removed the failing smoke test"})])

    return [look, fix, finish]


def test_the_openai_coder_repairs_from_the_test_output_and_the_app_files(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path
) -> None:
    repair_views: list[SessionView] = []
    with OpenAIStandin(KEY) as standin:
        env = env_for(OPENAI, standin.base_url, KEY, "standin-1")
        operator = start_operator(stack, data_dir, [namespace], tmp_path / "logs", **env)
        try:
            wait_for(
                lambda: _heartbeat_seen(stack.database_url, operator.pid), 30, "heartbeat", operator
            )
            example = yaml.safe_load((EXAMPLES / "project-gitops.yaml").read_text())
            spec = {**example["spec"], "agent": {"coder": "openai", "model": "standin-1"}}
            create(namespace, "projects", "Project", PROJECT, spec)
            project = wait_phase(namespace, "projects", PROJECT, {"approved"}, operator)
            plan = template_plan(data_dir / project["status"]["repoPath"], project)
            [repair_id] = plan.next_ids()
            standin.script(plan.by_slug(SMOKE_TESTS), _break_smoke_tests())
            standin.script(repair_id, _repair(repair_views))
            create(namespace, "runs", "Run", "notes-llm", {"projectRef": {"name": PROJECT}})
            run = wait_run_done(namespace, "notes-llm", operator, timeout=180)
        finally:
            operator.stop()
    assert not standin.session_failures, standin.session_failures
    status = run["status"]
    assert status["phase"] == "succeeded", status.get("message")
    assert status["message"] == "built and verified after 1 repair round"
    # One repair session: its task carries the verification's output, and the app's
    # files are there for its tools to read (the failing test among them).
    first, read = repair_views[:2]
    assert [v.step for v in repair_views] == [0, 1]
    task = first.inputs["task"]
    assert task["role"] == "repair" and task["pathScope"] == ["**"]
    assert "test_deliberately_broken" in task["instructions"]
    listed = read.expect("list_files", error=False).content.splitlines()
    assert {"app/server.py", "run.sh", SMOKE} <= set(listed)
    assert not any(path.startswith(".git/") for path in listed)
    assert BROKEN_MARKER in read.expect("read_file", error=False).content
    # Each planned task in one session, none before the tasks it depends on; the repair
    # last.
    opened = [v.task_id for v in standin.session_views if v.step == 0]
    assert sorted(opened) == sorted([*plan.order, repair_id])
    assert opened[-1] == repair_id and plan.in_dependency_order(opened)


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
