"""The anthropic agent against a real HTTP stand-in on loopback (only the paid LLM is faked)."""

from __future__ import annotations

import logging
import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from prazium_operator.agents import AgentError, Coder, Planner, get_coder, get_planner
from prazium_operator.agents.anthropic import (
    AnthropicAgentError,
    AnthropicCoder,
    AnthropicPlanner,
    MessagesSettings,
)
from prazium_operator.agents.anthropic.client import (
    API_KEY_ENV,
    BASE_URL_ENV,
    MAX_TOKENS_ENV,
    MODEL_ENV,
)
from prazium_operator.agents.structured import schemas
from prazium_operator.plan import PlanError, topological_order, validate_plan
from tests.support.anthropic_standin import AnthropicStandin

KEY = "sk-ant-test-unit-0123456789abcdef"
NAME = "Recipes"
DESCRIPTION = "A recipe box where cooks save recipes with ingredients, and user login"


@pytest.fixture(scope="module")
def standin() -> Iterator[AnthropicStandin]:
    with AnthropicStandin(KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(standin: AnthropicStandin) -> None:
    standin.faults.clear()
    standin.requests.clear()


def settings(standin: AnthropicStandin, key: str = KEY, **overrides: Any) -> MessagesSettings:
    values: dict[str, Any] = {"timeout": 30.0, "max_attempts": 3, "backoff": 0.01}
    values.update(overrides)
    return MessagesSettings(base_url=standin.base_url, api_key=key, model="standin-1", **values)


@pytest.fixture
def planner(standin: AnthropicStandin) -> AnthropicPlanner:
    return AnthropicPlanner(settings=settings(standin))


@pytest.fixture(scope="module")
def documents(standin: AnthropicStandin) -> dict[str, str]:
    return AnthropicPlanner(settings=settings(standin)).write_spec(
        NAME, DESCRIPTION, {"q1": "Email/Password"}, None, 1)


@pytest.fixture(scope="module")
def plan(standin: AnthropicStandin, documents: dict[str, str]) -> dict[str, Any]:
    return AnthropicPlanner(settings=settings(standin)).decompose(NAME, documents)


def test_registered_as_anthropic_reading_settings_from_the_environment(
        standin: AnthropicStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, standin.base_url)
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.setenv(MODEL_ENV, "env-model")
    monkeypatch.delenv(MAX_TOKENS_ENV, raising=False)
    planner = get_planner("anthropic")
    assert isinstance(planner, Planner) and isinstance(get_coder("anthropic"), Coder)
    assert planner.clarify(NAME, DESCRIPTION)[0]["id"] == "q1"
    monkeypatch.setenv(MAX_TOKENS_ENV, "1234")
    get_planner("anthropic", model="spec-model").clarify(NAME, DESCRIPTION)
    assert [(r["body"]["model"], r["body"]["max_tokens"]) for r in standin.requests] == [
        ("env-model", 8192), ("spec-model", 1234)]


def test_clarify_and_write_spec_round_trip(standin: AnthropicStandin,
                                           planner: AnthropicPlanner) -> None:
    questions = planner.clarify(NAME, DESCRIPTION)
    assert [q["id"] for q in questions] == [f"q{i}" for i in range(1, len(questions) + 1)]
    for question in questions:
        assert ("options" in question) == (question["type"] in ("single_choice", "multi_choice"))
    documents = planner.write_spec(NAME, DESCRIPTION, {"q1": "Email/Password"}, "Add tags", 2)
    assert set(documents) == {"SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md"}
    request = standin.requests[-1]
    assert request["headers"]["x-api-key"] == KEY
    assert request["headers"]["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request["headers"]
    body = request["body"]
    assert body["model"] == "standin-1" and body["max_tokens"] == 8192
    assert "Prazium" in body["system"]
    assert [t["name"] for t in body["tools"]] == ["spec_documents"]
    assert body["tools"][0]["input_schema"] == schemas.SPEC  # the shared schema
    assert body["tool_choice"] == {"type": "tool", "name": "spec_documents"}
    assert [m["role"] for m in body["messages"]] == ["user"]
    prompt = body["messages"][-1]["content"]
    assert DESCRIPTION in prompt and "Email/Password" in prompt and "Add tags" in prompt


def test_decompose_and_code_build_an_app_whose_tests_pass(
        standin: AnthropicStandin, documents: dict[str, str], plan: dict[str, Any],
        tmp_path: pathlib.Path) -> None:
    validate_plan(plan)
    coder = AnthropicCoder(settings=settings(standin))
    tasks = {t["id"]: t for t in plan["tasks"]}
    for task_id in topological_order(plan["tasks"]):
        coder.code(tasks[task_id], documents, tmp_path)
    assert os.access(tmp_path / "run.sh", os.X_OK)
    body = standin.requests[-1]["body"]
    assert body["tool_choice"]["name"] == "files"
    assert f'"id": "{task_id}"' in body["messages"][-1]["content"]
    command = [sys.executable if part == "python" else part for part in plan["verifyCommand"]]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


@pytest.mark.parametrize(("path", "reason"), [
    ("../x", "not a normalized relative path"),
    ("/etc/passwd", "not a normalized relative path"),
    (".git/config", "inside .git"),
    ("elsewhere/x.py", "outside the task's pathScope"),
])
def test_the_coder_refuses_paths_outside_the_task(
        standin: AnthropicStandin, documents: dict[str, str], plan: dict[str, Any],
        tmp_path: pathlib.Path, path: str, reason: str) -> None:
    task = plan["tasks"][0]

    def bad_path(answer: dict[str, Any]) -> dict[str, Any]:
        answer["files"][-1]["path"] = path
        return answer
    standin.tamper_next(bad_path)
    with pytest.raises(AnthropicAgentError) as error:
        AnthropicCoder(settings=settings(standin)).code(task, documents, tmp_path)
    assert f"refusing to write {path!r}: {reason}" in str(error.value)
    assert str(error.value).startswith(f"{task['id']}: ")
    assert list(tmp_path.rglob("*")) == []  # nothing written, not even the valid files


def test_malformed_tool_input_is_refused_with_a_clear_error(
        standin: AnthropicStandin, planner: AnthropicPlanner, documents: dict[str, str]) -> None:
    def cycle(answer: dict[str, Any]) -> dict[str, Any]:
        answer["tasks"][0]["dependencies"] = [answer["tasks"][-1]["id"]]
        return answer
    standin.tamper_next(cycle)
    with pytest.raises(PlanError, match="dependency cycle: task-"):
        planner.decompose(NAME, documents)

    def bad_question(answer: dict[str, Any]) -> dict[str, Any]:
        answer["questions"][0]["id"] = "first"
        return answer
    standin.tamper_next(bad_question)
    with pytest.raises(AnthropicAgentError, match="question 1 has id 'first'"):
        planner.clarify(NAME, DESCRIPTION)

    standin.tamper_next(lambda answer: {k: v for k, v in answer.items() if k != "ROUTES"})
    with pytest.raises(AnthropicAgentError, match=r"ROUTES\.md .* is missing or empty"):
        planner.write_spec(NAME, DESCRIPTION, {}, None, 1)

    standin.tamper_next(lambda _answer: "a string, not an object")
    with pytest.raises(AnthropicAgentError, match="questions: the tool input is a str"):
        planner.clarify(NAME, DESCRIPTION)


def test_529_overloaded_then_200_is_retried(standin: AnthropicStandin,
                                            planner: AnthropicPlanner) -> None:
    standin.fail_next(529)
    assert planner.clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 2
    standin.requests.clear()
    standin.fail_next(429)
    standin.fail_next(503)
    assert planner.clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 3
    standin.fail_next(529, times=3)
    with pytest.raises(AnthropicAgentError, match="giving up after 3 attempts: .* answered 529"):
        planner.clarify(NAME, DESCRIPTION)
    standin.requests.clear()
    standin.fail_next(400)
    with pytest.raises(AnthropicAgentError, match="answered 400"):
        planner.clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 1  # a client error is not retried


def test_a_missing_key_is_a_clear_agent_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.setenv(MODEL_ENV, "standin-1")
    with pytest.raises(AgentError, match="needs an API key: set ANTHROPIC_API_KEY"):
        get_planner("anthropic")
    with pytest.raises(AnthropicAgentError, match="needs an API key"):
        get_coder("anthropic")
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.delenv(MODEL_ENV)
    with pytest.raises(AnthropicAgentError, match="needs a model: set spec.agent.model or"):
        get_coder("anthropic")


def test_the_key_never_appears_in_error_text_or_logs(
        standin: AnthropicStandin, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "sk-ant-test-wrong-key-should-stay-secret"
    with pytest.raises(AnthropicAgentError, match="answered 401") as rejected:
        AnthropicPlanner(settings=settings(standin, key=wrong)).clarify(NAME, DESCRIPTION)
    assert wrong not in str(rejected.value) and wrong not in repr(settings(standin, key=wrong))
    # The endpoint echoes the key back in a retried error; neither log nor error shows it.
    standin.faults.append(lambda _answer: (529, {"error": {"message": f"key was {KEY}"}}))
    standin.faults.append(lambda _answer: (500, {"error": {"message": f"key was {KEY}"}}))
    with pytest.raises(AnthropicAgentError) as echoed:
        AnthropicPlanner(settings=settings(standin, max_attempts=2)).clarify(NAME, DESCRIPTION)
    assert KEY not in str(echoed.value) and "key was ***" in str(echoed.value)
    unreachable = MessagesSettings(base_url="http://127.0.0.1:9", api_key=wrong, model="m",
                                   timeout=2, max_attempts=1)
    with pytest.raises(AnthropicAgentError) as refused:
        AnthropicPlanner(settings=unreachable).clarify(NAME, DESCRIPTION)
    assert wrong not in str(refused.value)
    assert caplog.records and all(KEY not in r.getMessage() and wrong not in r.getMessage()
                                  for r in caplog.records)
