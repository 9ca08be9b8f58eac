"""The openai agent against a real HTTP stand-in on loopback (only the paid LLM is faked)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from prazium_operator.agents import Coder, Planner, get_coder, get_planner
from prazium_operator.agents.openai import (
    ChatSettings,
    OpenAIAgentError,
    OpenAICoder,
    OpenAIPlanner,
)
from prazium_operator.agents.openai.client import API_KEY_ENV, BASE_URL_ENV, MODEL_ENV
from prazium_operator.plan import PlanError, path_in_scope, topological_order, validate_plan
from tests.support.openai_standin import OpenAIStandin

KEY = "sk-test-unit-0123456789abcdef"
NAME = "Recipes"
DESCRIPTION = "A recipe box where cooks save recipes with ingredients, and user login"


@pytest.fixture(scope="module")
def standin() -> Iterator[OpenAIStandin]:
    with OpenAIStandin(KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(standin: OpenAIStandin) -> None:
    standin.faults.clear()
    standin.requests.clear()


def settings(standin: OpenAIStandin, key: str = KEY, **overrides: Any) -> ChatSettings:
    values: dict[str, Any] = {"timeout": 30.0, "max_attempts": 3, "backoff": 0.01}
    values.update(overrides)
    return ChatSettings(base_url=standin.base_url, api_key=key, model="standin-1", **values)


@pytest.fixture
def planner(standin: OpenAIStandin) -> OpenAIPlanner:
    return OpenAIPlanner(settings=settings(standin))


@pytest.fixture(scope="module")
def documents(standin: OpenAIStandin) -> dict[str, str]:
    return OpenAIPlanner(settings=settings(standin)).write_spec(
        NAME, DESCRIPTION, {"q1": "Email/Password"}, None, 1)


@pytest.fixture(scope="module")
def plan(standin: OpenAIStandin, documents: dict[str, str]) -> dict[str, Any]:
    return OpenAIPlanner(settings=settings(standin)).decompose(NAME, documents)


def test_registered_as_openai_reading_settings_from_the_environment(
        standin: OpenAIStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASE_URL_ENV, standin.base_url)
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.setenv(MODEL_ENV, "env-model")
    planner = get_planner("openai")
    assert isinstance(planner, Planner) and isinstance(get_coder("openai"), Coder)
    questions = planner.clarify(NAME, DESCRIPTION)
    assert questions and questions[0]["id"] == "q1"
    get_planner("openai", model="spec-model").clarify(NAME, DESCRIPTION)
    assert [r["body"]["model"] for r in standin.requests] == ["env-model", "spec-model"]
    # The template agent accepts (and ignores) the model option too.
    assert get_planner("template", model="spec-model").clarify(NAME, DESCRIPTION)


def test_clarify_and_write_spec_round_trip(standin: OpenAIStandin,
                                           planner: OpenAIPlanner) -> None:
    questions = planner.clarify(NAME, DESCRIPTION)
    assert [q["id"] for q in questions] == [f"q{i}" for i in range(1, len(questions) + 1)]
    for question in questions:
        assert ("options" in question) == (question["type"] in ("single_choice", "multi_choice"))
    documents = planner.write_spec(NAME, DESCRIPTION, {"q1": "Email/Password"}, "Add tags", 2)
    assert set(documents) == {"SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md"}
    request = standin.requests[-1]
    assert request["headers"]["authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "standin-1"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    prompt = body["messages"][-1]["content"]
    assert DESCRIPTION in prompt and "Email/Password" in prompt and "Add tags" in prompt


def test_decompose_and_code_build_an_app_whose_tests_pass(
        standin: OpenAIStandin, documents: dict[str, str], plan: dict[str, Any],
        tmp_path: pathlib.Path) -> None:
    validate_plan(plan)
    coder = OpenAICoder(settings=settings(standin))
    tasks = {t["id"]: t for t in plan["tasks"]}
    for task_id in topological_order(plan["tasks"]):
        coder.code(tasks[task_id], documents, tmp_path)
        written = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
        assert written
    assert os.access(tmp_path / "run.sh", os.X_OK)
    prompt = standin.requests[-1]["body"]["messages"][-1]["content"]
    assert f'"id": "{task_id}"' in prompt and DESCRIPTION.split(",")[0] in prompt
    command = [sys.executable if part == "python" else part for part in plan["verifyCommand"]]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_the_coder_sends_the_current_content_of_expected_outputs(
        standin: OpenAIStandin, documents: dict[str, str], plan: dict[str, Any],
        tmp_path: pathlib.Path) -> None:
    task = plan["tasks"][0]
    existing = task["expectedOutputs"][0]
    (tmp_path / existing).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / existing).write_text("PREVIOUS-CONTENT-MARKER\n")
    OpenAICoder(settings=settings(standin)).code(task, documents, tmp_path)
    prompt = standin.requests[-1]["body"]["messages"][-1]["content"]
    assert "PREVIOUS-CONTENT-MARKER" in prompt
    assert "PREVIOUS-CONTENT-MARKER" not in (tmp_path / existing).read_text()


def _first_file_path(path: str) -> Any:
    def change(answer: dict[str, Any]) -> dict[str, Any]:
        answer["files"][0]["path"] = path
        return answer
    return change


@pytest.mark.parametrize(("path", "reason"), [
    ("../x", "not a normalized relative path"),
    ("/etc/passwd", "not a normalized relative path"),
    ("app/./x.py", "not a normalized relative path"),
    ("elsewhere/x.py", "outside the task's pathScope"),
])
def test_the_coder_refuses_paths_outside_the_task(
        standin: OpenAIStandin, documents: dict[str, str], plan: dict[str, Any],
        tmp_path: pathlib.Path, path: str, reason: str) -> None:
    task = plan["tasks"][0]
    standin.tamper_next(_first_file_path(path))
    with pytest.raises(OpenAIAgentError) as error:
        OpenAICoder(settings=settings(standin)).code(task, documents, tmp_path)
    assert f"refusing to write {path!r}: {reason}" in str(error.value)
    assert task["id"] in str(error.value)
    assert [p for p in tmp_path.rglob("*")] == []  # nothing written


def test_the_coder_refuses_to_write_through_a_symlink(
        standin: OpenAIStandin, documents: dict[str, str], plan: dict[str, Any],
        tmp_path: pathlib.Path) -> None:
    task = plan["tasks"][0]
    target = next(p for p in task["expectedOutputs"] if "/" in p)
    outside = tmp_path / "outside"
    outside.mkdir()
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / target.split("/")[0]).symlink_to(outside)
    standin.tamper_next(_first_file_path(target))
    with pytest.raises(OpenAIAgentError, match=f"refusing to write '{target}': .* is a symlink"):
        OpenAICoder(settings=settings(standin)).code(task, documents, worktree)
    assert list(outside.iterdir()) == []
    assert path_in_scope(target, task["pathScope"])


def test_malformed_answers_are_refused_with_a_clear_error(
        standin: OpenAIStandin, planner: OpenAIPlanner, documents: dict[str, str]) -> None:
    standin.tamper_next(lambda _answer: "this is not {json")
    with pytest.raises(OpenAIAgentError, match="questions: the model's answer is not valid JSON"):
        planner.clarify(NAME, DESCRIPTION)

    def cycle(answer: dict[str, Any]) -> dict[str, Any]:
        answer["tasks"][0]["dependencies"] = [answer["tasks"][-1]["id"]]
        return answer
    standin.tamper_next(cycle)
    with pytest.raises(PlanError, match="dependency cycle: task-"):
        planner.decompose(NAME, documents)

    def bad_question(answer: dict[str, Any]) -> dict[str, Any]:
        answer["questions"][0]["type"] = "essay"
        return answer
    standin.tamper_next(bad_question)
    with pytest.raises(OpenAIAgentError, match="question 1 has type 'essay'"):
        planner.clarify(NAME, DESCRIPTION)

    standin.tamper_next(lambda answer: {k: v for k, v in answer.items() if k != "DATA"})
    with pytest.raises(OpenAIAgentError, match=r"DATA\.md .* is missing or empty"):
        planner.write_spec(NAME, DESCRIPTION, {}, None, 1)


def test_429_and_5xx_are_retried_with_backoff(standin: OpenAIStandin,
                                              planner: OpenAIPlanner) -> None:
    standin.fail_next(429)
    standin.fail_next(503)
    assert planner.clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 3
    standin.fail_next(500, times=3)
    with pytest.raises(OpenAIAgentError, match="giving up after 3 attempts: .* answered 500"):
        planner.clarify(NAME, DESCRIPTION)
    standin.requests.clear()
    standin.fail_next(400)
    with pytest.raises(OpenAIAgentError, match="answered 400"):
        planner.clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 1  # a client error is not retried


def test_a_missing_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    monkeypatch.setenv(MODEL_ENV, "standin-1")
    with pytest.raises(OpenAIAgentError, match="needs an API key: set OPENAI_API_KEY"):
        get_planner("openai")
    monkeypatch.setenv(API_KEY_ENV, KEY)
    monkeypatch.delenv(MODEL_ENV)
    with pytest.raises(OpenAIAgentError, match="needs a model: set spec.agent.model or"):
        get_coder("openai")


def test_the_key_never_appears_in_error_text(standin: OpenAIStandin) -> None:
    wrong = "sk-test-wrong-key-should-stay-secret"
    # The endpoint echoes the key back in its answer; the error masks it.
    standin.tamper_next(lambda _answer: f"not json, key was {KEY}")
    with pytest.raises(OpenAIAgentError) as echoed:
        OpenAIPlanner(settings=settings(standin)).clarify(NAME, DESCRIPTION)
    assert KEY not in str(echoed.value) and "key was ***" in str(echoed.value)
    with pytest.raises(OpenAIAgentError, match="answered 401") as rejected:
        OpenAIPlanner(settings=settings(standin, key=wrong)).clarify(NAME, DESCRIPTION)
    assert wrong not in str(rejected.value) and wrong not in repr(settings(standin, key=wrong))
    unreachable = ChatSettings(base_url="http://127.0.0.1:9/v1", api_key=wrong, model="m",
                               timeout=2, max_attempts=1)
    with pytest.raises(OpenAIAgentError) as refused:
        OpenAIPlanner(settings=unreachable).clarify(NAME, DESCRIPTION)
    assert wrong not in str(refused.value)
