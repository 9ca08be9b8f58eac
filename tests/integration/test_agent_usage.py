"""Usage, cost and budgets of the coding-agent loop through the operator (local executor,
no node): a scripted openai session reports fixed token counts per request, and the
Tasks', the Run's and the Project's status, the API's answers and the operator's
/metrics show them, priced by PRAZIUM_PRICES; a Run budget that is too small stops the
running attempts (the stop file) and fails the run with BudgetExceeded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s

from prazium_kit import ids, kube, paths, resources
from tests.integration.test_agent_loop import EXAMPLES, KEYS, _operator, _sandbox_env
from tests.integration.test_task_logs import scrape, value
from tests.support.agent_sessions import Call, Reply, SessionView, template_files
from tests.support.build import create, kubectl_apply, tasks_of, wait_phase, wait_run_done
from tests.support.llm_standin import LLMStandin
from tests.support.providers import OPENAI, env_for
from tests.support.services import Stack, free_port, wait_for

pytestmark = pytest.mark.integration
MODEL = "standin-1"
PRICES = {MODEL: {"input": 2, "output": 8, "cachedInput": 0.5}}
# Each task's session: two requests of fixed usage (prompt, completion, cached).
WRITE_USAGE, FINISH_USAGE = (1000, 100, 400), (1200, 50, 800)
TASK_INPUT, TASK_OUTPUT, TASK_CACHED = 2200, 150, 1200
# 1000 plain input tokens at 2, 1200 cached at 0.5, 150 output at 8, per million.
TASK_COST = (1000 * 2 + 1200 * 0.5 + 150 * 8) / 1_000_000


@pytest.fixture
def standin() -> Iterator[LLMStandin]:
    with OPENAI.standin(KEYS[OPENAI.name]) as server:
        yield server


def _env(standin: LLMStandin, **extra: str) -> dict[str, str]:
    return {
        **env_for(OPENAI, standin.base_url, KEYS[OPENAI.name], ""),
        **_sandbox_env(),
        "PRAZIUM_PRICES": json.dumps(PRICES),
        **extra,
    }


def _write(view: SessionView) -> Reply:
    return Reply([Call("write_file", f) for f in template_files(view.inputs)], usage=WRITE_USAGE)


def _finish(view: SessionView) -> Reply:
    bad = [r.content for r in view.results if r.is_error]
    assert view.results and not bad, bad
    return Reply([Call("finish", {"summary": "wrote the task's files"})], usage=FINISH_USAGE)


def _run(namespace: str, name: str, **spec: Any) -> None:
    create(
        namespace,
        "runs",
        "Run",
        name,
        {"projectRef": {"name": "notes-gitops"}, "agent": {"coder": "openai", "model": MODEL}}
        | spec,
    )


def _project(stack: Stack, namespace: str, operator: Any) -> None:
    kubectl_apply(stack, namespace, EXAMPLES / "project-gitops.yaml")
    wait_phase(namespace, "projects", "notes-gitops", {"approved"}, operator)


def test_usage_is_recorded_per_attempt_summed_priced_and_shown(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    standin: LLMStandin,
    http: httpx.Client,
) -> None:
    standin.script("*", [_write, _finish])
    port = free_port()
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    operator = _operator(
        stack,
        namespace,
        data_dir,
        tmp_path / "logs",
        _env(
            standin,
            PRAZIUM_OPERATOR_METRICS_PORT=str(port),
            PRAZIUM_OPERATOR_METRICS_HOST="127.0.0.1",
        ),
    )
    try:
        _project(stack, namespace, operator)
        _run(namespace, "notes-usage")
        run = wait_run_done(namespace, "notes-usage", operator, timeout=600)
        assert run["status"]["phase"] == "succeeded", run["status"].get("message")
        samples = scrape(metrics_url)

        # The Project's usage: its finished runs', written as the run ends.
        def project_usage() -> dict[str, Any] | None:
            project = resources.get(namespace, kube.PROJECTS, "notes-gitops") or {}
            found: dict[str, Any] | None = (project.get("status") or {}).get("usage")
            return found

        wait_for(lambda: project_usage() is not None, 60, "the project's usage", operator)
    finally:
        operator.stop()
    assert standin.session_failures == [], standin.session_failures
    tasks = tasks_of(namespace, "notes-usage")
    count = len(tasks)
    assert count >= 2
    for task in tasks:
        usage = task["status"]["usage"]
        assert (usage["requests"], usage["inputTokens"], usage["outputTokens"]) == (
            2,
            TASK_INPUT,
            TASK_OUTPUT,
        ), task["metadata"]["name"]
        assert usage["cachedInputTokens"] == TASK_CACHED and usage["cacheWriteInputTokens"] == 0
        assert usage["cost"] == pytest.approx(TASK_COST)
        [attempt] = usage["attempts"]
        assert (attempt["attempt"], attempt["provider"], attempt["model"]) == (1, "openai", MODEL)
        assert attempt["reason"] == "Finished" and attempt["requests"] == 2
    summed = run["status"]["usage"]
    assert (summed["requests"], summed["inputTokens"], summed["outputTokens"]) == (
        2 * count,
        TASK_INPUT * count,
        TASK_OUTPUT * count,
    )
    assert summed["cachedInputTokens"] == TASK_CACHED * count
    assert summed["cost"] == pytest.approx(TASK_COST * count)
    assert project_usage() == summed  # one finished run: its usage, counted once

    # The API's answers: the run (list and detail) and each task, beyond the contract.
    project_id, run_id = ids.project_id("notes-gitops"), ids.run_id("notes-usage")
    detail = http.get(f"/projects/{project_id}/runs/{run_id}").json()["data"]
    assert detail["usage"] == summed
    listed = http.get(f"/projects/{project_id}/runs").json()["data"]
    assert [r["usage"] for r in listed if r["id"] == run_id] == [summed]
    first = http.get(f"/projects/{project_id}/runs/{run_id}/tasks/task_001").json()["data"]
    assert first["usage"]["inputTokens"] == TASK_INPUT
    assert first["usage"]["attempts"][0]["reason"] == "Finished"
    briefs = {t["id"]: t for t in detail["tasks"]}
    assert briefs["task_001"]["usage"]["cost"] == pytest.approx(TASK_COST)
    openapi = http.get("/openapi.json").json()
    assert "price table" in json.dumps(openapi["components"]["schemas"]["RunSummary"])

    # The operator's /metrics: tokens by provider, model and kind, requests.
    labels = {"provider": "openai", "model": MODEL}
    assert value(samples, "prazium_agent_tokens_total", kind="input", **labels) == (
        TASK_INPUT * count
    )
    assert value(samples, "prazium_agent_tokens_total", kind="output", **labels) == (
        TASK_OUTPUT * count
    )
    assert value(samples, "prazium_agent_tokens_total", kind="cached_input", **labels) == (
        TASK_CACHED * count
    )
    assert value(samples, "prazium_agent_requests_total", **labels) == 2 * count


def test_a_run_budget_reached_stops_the_attempts_and_fails_the_run(
    stack: Stack,
    namespace: str,
    data_dir: Path,
    tmp_path: Path,
    standin: LLMStandin,
    http: httpx.Client,
) -> None:
    def slow_look(view: SessionView) -> Reply:
        time.sleep(0.5)  # gives the operator a round to see the run's spend between steps
        # A new pattern each step: the same call repeated would stop it as a stuck loop.
        return Reply([Call("list_files", {"glob": f"**/*{view.step}*"})], usage=(1000, 100, 0))

    # task-001 (the app shell) finishes within the budget; the tasks after it look
    # around forever, 1100 tokens a step, until the budget stops them.
    standin.script("task-001", [_write, _finish])
    standin.script("*", [slow_look] * 30)
    budget = TASK_INPUT + TASK_OUTPUT + 4000
    operator = _operator(stack, namespace, data_dir, tmp_path / "logs", _env(standin))
    try:
        _project(stack, namespace, operator)
        # The Project's budget is each run's default; the Run's maxTokens overrides it.
        resources.merge_patch(
            namespace,
            kube.PROJECTS,
            "notes-gitops",
            {"spec": {"budget": {"maxTokens": 10**9, "maxCost": 1000}}},
        )
        _run(namespace, "notes-budget", budget={"maxTokens": budget})
        run = wait_run_done(namespace, "notes-budget", operator, timeout=600)
    finally:
        operator.stop()
    status = run["status"]
    assert status["phase"] == "failed"
    message = status["message"]
    assert message.startswith("the run's budget is spent: "), message
    assert f"tokens of maxTokens {budget}" in message
    spent = int(message.split("spent: ")[1].split(" tokens")[0])
    assert spent >= budget and spent == (
        status["usage"]["inputTokens"] + status["usage"]["outputTokens"]
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "BudgetExceeded"
    tasks = {t["spec"]["definition"]["id"]: t for t in tasks_of(namespace, "notes-budget")}
    assert tasks["task-001"]["status"]["phase"] == "succeeded"
    stopped = [t for t in tasks.values() if t["status"]["phase"] == "failed"]
    assert stopped and "stopped: " in message
    for task in stopped:
        assert task["status"]["usage"]["attempts"][-1]["reason"] == "BudgetExceeded"
        failed = next(c for c in task["status"]["conditions"] if c["type"] == "Ready")
        assert failed["reason"] == "BudgetExceeded"
        assert task["spec"]["definition"]["id"] in message
    # Nothing started after the budget was reached.
    never = [t for t in tasks.values() if t["status"]["phase"] == "cancelled"]
    assert all("budget" in t["status"]["message"] for t in never)
    # The tasks after task-001 run one by one here: each attempt was given what the run
    # had left and stopped itself there (the next test stops one through the stop
    # file). The stop file is written all the same, and the Run's Warning Event posted.
    stop = paths.run_results(data_dir, namespace, "notes-budget") / "stop"
    assert stop.read_text().startswith("the run's budget is spent: ")
    events = k8s.CoreV1Api().list_namespaced_event(
        namespace, field_selector="involvedObject.name=notes-budget"
    )
    reasons = {e.reason for e in events.items}
    assert {"BudgetExceeded", "RunFailed"} <= reasons, reasons
    # The API's run answer says so too.
    detail = http.get(
        f"/projects/{ids.project_id('notes-gitops')}/runs/{ids.run_id('notes-budget')}"
    ).json()["data"]
    assert detail["status"] == "failed" and detail["message"] == message
    assert detail["usage"]["inputTokens"] + detail["usage"]["outputTokens"] == spent


def test_a_budget_lowered_under_the_spend_stops_the_running_attempt_by_the_stop_file(
    stack: Stack, namespace: str, data_dir: Path, tmp_path: Path, standin: LLMStandin
) -> None:
    def slow_look(view: SessionView) -> Reply:
        time.sleep(0.5)
        return Reply([Call("list_files", {"glob": f"**/*{view.step}*"})], usage=(1000, 100, 0))

    standin.script("*", [slow_look] * 60)
    operator = _operator(stack, namespace, data_dir, tmp_path / "logs", _env(standin))
    task_name = ids.task_cr_name("notes-lowered", "task-001")
    try:
        _project(stack, namespace, operator)
        _run(namespace, "notes-lowered", budget={"maxTokens": 10**9})

        def requests_made() -> int:
            task = resources.get(namespace, kube.TASKS, task_name) or {}
            usage = (task.get("status") or {}).get("usage") or {}
            return int(usage.get("requests") or 0)

        # The running attempt's usage is in its Task's status as it goes (its events).
        wait_for(lambda: requests_made() >= 2, 120, "task-001's live usage", operator)
        # Its attempt was given a budget of 10**9: only the operator, seeing the run's
        # spend over the lowered budget, can stop it, through the stop file.
        resources.merge_patch(
            namespace, kube.RUNS, "notes-lowered", {"spec": {"budget": {"maxTokens": 2000}}}
        )
        run = wait_run_done(namespace, "notes-lowered", operator, timeout=300)
    finally:
        operator.stop()
    status = run["status"]
    assert status["phase"] == "failed"
    assert status["message"].startswith("the run's budget is spent: ")
    assert "of maxTokens 2000; stopped: task-001 (app-shell)" in status["message"]
    task = resources.get(namespace, kube.TASKS, task_name)
    assert task is not None
    assert "stopped by the operator: the run's budget is spent" in task["status"]["message"]
    assert task["status"]["usage"]["attempts"][0]["reason"] == "BudgetExceeded"
    # Stopped at its next step: far fewer requests than its script had.
    assert len(standin.session_requests("task-001")) < 20
