"""The LLM agents (openai, anthropic) against real HTTP stand-ins on loopback.

Only the paid LLM is faked. Every test runs for every provider
(tests/support/providers.py); where the providers' wire protocols differ, the
test checks each one's own.
"""

from __future__ import annotations

import logging
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from prazium_kit.plan import PlanError, path_in_scope, topological_order, validate_plan
from prazium_operator.agents import AgentError, Coder, Planner, get_coder, get_planner, preload
from prazium_operator.agents.anthropic.client import MAX_TOKENS_ENV
from prazium_operator.agents.structured import prompts, schemas
from prazium_operator.agents.structured.agent import StructuredPlanner
from tests.support.llm_standin import LLMStandin
from tests.support.providers import ANTHROPIC, OPENAI, PROVIDERS, Provider

KEYS = {
    OPENAI.name: "sk-test-unit-0123456789abcdef",
    ANTHROPIC.name: "sk-ant-test-unit-0123456789abcdef",
}
NAME = "Recipes"
DESCRIPTION = "A recipe box where cooks save recipes with ingredients, and user login"


@pytest.fixture(scope="module", params=PROVIDERS, ids=lambda p: p.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    found: Provider = request.param
    return found


@pytest.fixture(scope="module")
def key(provider: Provider) -> str:
    return KEYS[provider.name]


@pytest.fixture(scope="module")
def standin(provider: Provider, key: str) -> Iterator[LLMStandin]:
    with provider.standin(key) as server:
        yield server


@pytest.fixture(autouse=True)
def clean(standin: LLMStandin) -> None:
    standin.faults.clear()
    standin.requests.clear()


def settings(provider: Provider, base_url: str, key: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {"timeout": 30.0, "max_attempts": 3}
    values.update(overrides)
    return provider.settings(base_url=base_url, api_key=key, model="standin-1", **values)


@pytest.fixture
def planner(provider: Provider, standin: LLMStandin, key: str) -> StructuredPlanner:
    return provider.planner(settings=settings(provider, standin.base_url, key))


@pytest.fixture(scope="module")
def documents(provider: Provider, standin: LLMStandin, key: str) -> dict[str, str]:
    return provider.planner(settings=settings(provider, standin.base_url, key)).write_spec(
        NAME, DESCRIPTION, {"q1": "Email/Password"}, None, 1
    )


@pytest.fixture(scope="module")
def plan(
    provider: Provider, standin: LLMStandin, key: str, documents: dict[str, str]
) -> dict[str, Any]:
    return provider.planner(settings=settings(provider, standin.base_url, key)).decompose(
        NAME, documents
    )


def _assert_structured_request(
    provider: Provider, request: dict[str, Any], key: str, schema_name: str
) -> None:
    """The request asks for schema_name's shared strict schema, the provider's way."""
    headers, body = request["headers"], request["body"]
    assert headers.items() >= provider.auth(key).items()
    assert not set(provider.never_sent) & set(headers)
    assert body["model"] == "standin-1"
    assert provider.asked(body) == (schema_name, schemas.NAMES[schema_name])
    if provider is OPENAI:
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert body["messages"][0]["content"] == prompts.SYSTEM
    else:  # one tool, forced, whose input is the answer
        assert body["max_tokens"] == 8192
        assert [t["name"] for t in body["tools"]] == [schema_name]
        assert body["tool_choice"] == {"type": "tool", "name": schema_name}
        assert [m["role"] for m in body["messages"]] == ["user"]
        assert body["system"] == prompts.SYSTEM
    assert "Prazium" in prompts.SYSTEM


def test_registered_under_its_name_reading_settings_from_the_environment(
    provider: Provider, standin: LLMStandin, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(provider.base_url_env, standin.base_url)
    monkeypatch.setenv(provider.key_env, key)
    monkeypatch.setenv(provider.model_env, "env-model")
    monkeypatch.delenv(MAX_TOKENS_ENV, raising=False)
    planner = get_planner(provider.name)
    assert isinstance(planner, Planner) and isinstance(get_coder(provider.name), Coder)
    questions = planner.clarify(NAME, DESCRIPTION)
    assert questions and questions[0]["id"] == "q1"
    monkeypatch.setenv(MAX_TOKENS_ENV, "1234")  # only the anthropic agent reads it
    get_planner(provider.name, model="spec-model").clarify(NAME, DESCRIPTION)
    assert [r["body"]["model"] for r in standin.requests] == ["env-model", "spec-model"]
    if provider is ANTHROPIC:
        assert [r["body"]["max_tokens"] for r in standin.requests] == [8192, 1234]
    # The template agent accepts (and ignores) the model option too.
    assert get_planner("template", model="spec-model").clarify(NAME, DESCRIPTION)


def test_the_sdks_base_url_variable_is_honoured_when_prazium_names_none(
    provider: Provider, standin: LLMStandin, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(provider.base_url_env, raising=False)
    monkeypatch.setenv(provider.sdk_base_url_env, standin.base_url)
    monkeypatch.setenv(provider.key_env, key)
    monkeypatch.setenv(provider.model_env, "standin-1")
    assert get_planner(provider.name).clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 1
    # Prazium's own variable wins over the SDK's.
    monkeypatch.setenv(provider.base_url_env, standin.base_url)
    monkeypatch.setenv(provider.sdk_base_url_env, "http://127.0.0.1:9/nowhere")
    assert get_planner(provider.name).clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 2


def test_clarify_and_write_spec_round_trip(
    provider: Provider, standin: LLMStandin, key: str, planner: StructuredPlanner
) -> None:
    questions = planner.clarify(NAME, DESCRIPTION)
    assert [q["id"] for q in questions] == [f"q{i}" for i in range(1, len(questions) + 1)]
    for question in questions:
        assert ("options" in question) == (question["type"] in ("single_choice", "multi_choice"))
    _assert_structured_request(provider, standin.requests[-1], key, "questions")
    documents = planner.write_spec(NAME, DESCRIPTION, {"q1": "Email/Password"}, "Add tags", 2)
    assert set(documents) == {"SPEC.md", "ACCEPTANCE.md", "ROUTES.md", "DATA.md"}
    request = standin.requests[-1]
    _assert_structured_request(provider, request, key, "spec_documents")
    prompt = request["body"]["messages"][-1]["content"]
    assert DESCRIPTION in prompt and "Email/Password" in prompt and "Add tags" in prompt


def test_decompose_and_code_build_an_app_whose_tests_pass(
    provider: Provider,
    standin: LLMStandin,
    key: str,
    documents: dict[str, str],
    plan: dict[str, Any],
    tmp_path: pathlib.Path,
) -> None:
    validate_plan(plan)
    coder = provider.coder(settings=settings(provider, standin.base_url, key))
    tasks = {t["id"]: t for t in plan["tasks"]}
    for task_id in topological_order(plan["tasks"]):
        coder.code(tasks[task_id], documents, tmp_path)
        written = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()]
        assert written
    assert os.access(tmp_path / "run.sh", os.X_OK)
    request = standin.requests[-1]
    _assert_structured_request(provider, request, key, "files")
    prompt = request["body"]["messages"][-1]["content"]
    assert f'"id": "{task_id}"' in prompt and DESCRIPTION.split(",", maxsplit=1)[0] in prompt
    command = [sys.executable if part == "python" else part for part in plan["verifyCommand"]]
    result = subprocess.run(
        command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_the_coder_sends_the_current_content_of_expected_outputs(
    provider: Provider,
    standin: LLMStandin,
    key: str,
    documents: dict[str, str],
    plan: dict[str, Any],
    tmp_path: pathlib.Path,
) -> None:
    task = plan["tasks"][0]
    existing = task["expectedOutputs"][0]
    (tmp_path / existing).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / existing).write_text("PREVIOUS-CONTENT-MARKER\n")
    provider.coder(settings=settings(provider, standin.base_url, key)).code(
        task, documents, tmp_path
    )
    prompt = standin.requests[-1]["body"]["messages"][-1]["content"]
    assert "PREVIOUS-CONTENT-MARKER" in prompt
    assert "PREVIOUS-CONTENT-MARKER" not in (tmp_path / existing).read_text()


def _file_path(index: int, path: str) -> Any:
    def change(answer: dict[str, Any]) -> dict[str, Any]:
        answer["files"][index]["path"] = path
        return answer

    return change


@pytest.mark.parametrize("index", [0, -1], ids=["first-file", "last-file"])
@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../x", "not a normalized relative path"),
        ("/etc/passwd", "not a normalized relative path"),
        ("app/./x.py", "not a normalized relative path"),
        (".git/config", "inside .git"),
        ("elsewhere/x.py", "outside the task's pathScope"),
    ],
)
def test_the_coder_refuses_paths_outside_the_task(
    provider: Provider,
    standin: LLMStandin,
    key: str,
    documents: dict[str, str],
    plan: dict[str, Any],
    tmp_path: pathlib.Path,
    path: str,
    reason: str,
    index: int,
) -> None:
    task = plan["tasks"][0]
    standin.tamper_next(_file_path(index, path))
    with pytest.raises(provider.error) as error:
        provider.coder(settings=settings(provider, standin.base_url, key)).code(
            task, documents, tmp_path
        )
    assert f"refusing to write {path!r}: {reason}" in str(error.value)
    assert str(error.value).startswith(f"{task['id']}: ")
    assert list(tmp_path.rglob("*")) == []  # nothing written, not even the valid files


def test_the_coder_refuses_to_write_through_a_symlink(
    provider: Provider,
    standin: LLMStandin,
    key: str,
    documents: dict[str, str],
    plan: dict[str, Any],
    tmp_path: pathlib.Path,
) -> None:
    task = plan["tasks"][0]
    target = next(p for p in task["expectedOutputs"] if "/" in p)
    outside = tmp_path / "outside"
    outside.mkdir()
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / target.split("/")[0]).symlink_to(outside)
    standin.tamper_next(_file_path(0, target))
    with pytest.raises(provider.error, match=f"refusing to write '{target}': .* is a symlink"):
        provider.coder(settings=settings(provider, standin.base_url, key)).code(
            task, documents, worktree
        )
    assert list(outside.iterdir()) == []
    assert path_in_scope(target, task["pathScope"])


def test_malformed_answers_are_refused_with_a_clear_error(
    provider: Provider, standin: LLMStandin, planner: StructuredPlanner, documents: dict[str, str]
) -> None:
    standin.tamper_next(lambda _answer: "this is not {json")
    with pytest.raises(provider.error, match=f"questions: {provider.not_an_object}"):
        planner.clarify(NAME, DESCRIPTION)

    def cycle(answer: dict[str, Any]) -> dict[str, Any]:
        answer["tasks"][0]["dependencies"] = [answer["tasks"][-1]["id"]]
        return answer

    standin.tamper_next(cycle)
    with pytest.raises(PlanError, match="dependency cycle: task-"):
        planner.decompose(NAME, documents)

    def question(field: str, value: str) -> Any:
        def change(answer: dict[str, Any]) -> dict[str, Any]:
            answer["questions"][0][field] = value
            return answer

        return change

    standin.tamper_next(question("type", "essay"))
    with pytest.raises(provider.error, match="question 1 has type 'essay'"):
        planner.clarify(NAME, DESCRIPTION)
    standin.tamper_next(question("id", "first"))
    with pytest.raises(provider.error, match="question 1 has id 'first'"):
        planner.clarify(NAME, DESCRIPTION)

    def without(key: str) -> Any:
        return lambda answer: {k: v for k, v in answer.items() if k != key}

    for document in ("DATA", "ROUTES"):
        standin.tamper_next(without(document))
        with pytest.raises(provider.error, match=rf"{document}\.md .* is missing or empty"):
            planner.write_spec(NAME, DESCRIPTION, {}, None, 1)


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
def test_a_body_that_is_not_json_is_a_clear_agent_error(
    provider: Provider, standin: LLMStandin, key: str, planner: StructuredPlanner, content_type: str
) -> None:
    standin.raw_next(f"<html>busy, key was {key}</html>", content_type)
    with pytest.raises(
        provider.error, match="answered a body that is not a JSON response"
    ) as error:
        planner.clarify(NAME, DESCRIPTION)
    assert key not in str(error.value)
    assert len(standin.requests) == 1  # an answer, though a broken one: not retried


def test_429_5xx_and_529_are_retried_with_backoff(
    provider: Provider, standin: LLMStandin, planner: StructuredPlanner
) -> None:
    standin.fail_next(529)  # Anthropic's "overloaded"
    assert planner.clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 2
    standin.requests.clear()
    standin.fail_next(429)
    standin.fail_next(503)
    assert planner.clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 3
    for status in (500, 529):
        standin.fail_next(status, times=3)
        with pytest.raises(
            provider.error, match=f"giving up after 3 attempts: .* answered {status}"
        ):
            planner.clarify(NAME, DESCRIPTION)
    standin.requests.clear()
    standin.fail_next(400)
    with pytest.raises(provider.error, match="answered 400"):
        planner.clarify(NAME, DESCRIPTION)
    assert len(standin.requests) == 1  # a client error is not retried


def test_the_standins_reply_time_holds_every_answer_and_delay_next_replaces_it(
    provider: Provider, key: str
) -> None:
    # A stand-in of its own: the module's shared one keeps answering at once.
    with provider.standin(key) as server:
        planner = provider.planner(
            settings=settings(provider, server.base_url, key, timeout=10.0, max_attempts=1)
        )
        server.reply_seconds = 0.3
        for _ in range(2):
            started = time.monotonic()
            assert planner.clarify(NAME, DESCRIPTION)
            assert time.monotonic() - started >= 0.3
        # A scripted delay replaces the reply time for its request: one far longer
        # than the client's timeout would fail the call, a delay of 0 answers at once.
        server.reply_seconds = 60.0
        server.delay_next(0.0)
        assert planner.clarify(NAME, DESCRIPTION)
        assert len(server.requests) == 3
        server.reply_seconds = 0.0


def test_a_missing_key_or_model_is_a_clear_agent_error(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(provider.key_env, raising=False)
    monkeypatch.setenv(provider.model_env, "standin-1")
    with pytest.raises(provider.error, match=f"needs an API key: set {provider.key_env}") as err:
        get_planner(provider.name)
    assert isinstance(err.value, AgentError)
    with pytest.raises(provider.error, match="needs an API key"):
        get_coder(provider.name)
    monkeypatch.setenv(provider.key_env, KEYS[provider.name])
    monkeypatch.delenv(provider.model_env)
    with pytest.raises(provider.error, match=r"needs a model: set spec\.agent\.model or"):
        get_coder(provider.name)


def test_the_key_never_appears_in_error_text_or_logs(
    provider: Provider, standin: LLMStandin, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = f"{key[:6]}-wrong-key-should-stay-secret"
    with pytest.raises(provider.error, match="answered 401") as rejected:
        provider.planner(settings=settings(provider, standin.base_url, wrong)).clarify(
            NAME, DESCRIPTION
        )
    assert wrong not in str(rejected.value)
    assert wrong not in repr(settings(provider, standin.base_url, wrong))
    # The endpoint echoes the key back in a retried error; neither log nor error shows it.
    standin.faults.append(lambda _answer: (529, {"error": {"message": f"key was {key}"}}))
    standin.faults.append(lambda _answer: (500, {"error": {"message": f"key was {key}"}}))
    with pytest.raises(provider.error) as echoed:
        provider.planner(
            settings=settings(provider, standin.base_url, key, max_attempts=2)
        ).clarify(NAME, DESCRIPTION)
    assert key not in str(echoed.value) and "key was ***" in str(echoed.value)
    if provider is OPENAI:  # its answers are text, which may echo the key too
        standin.tamper_next(lambda _answer: f"not json, key was {key}")
        with pytest.raises(provider.error) as answered:
            provider.planner(settings=settings(provider, standin.base_url, key)).clarify(
                NAME, DESCRIPTION
            )
        assert key not in str(answered.value) and "key was ***" in str(answered.value)
    unreachable = provider.settings(
        base_url=f"http://127.0.0.1:9{provider.standin.base_path}",
        api_key=wrong,
        model="m",
        timeout=2,
        max_attempts=1,
    )
    with pytest.raises(provider.error) as refused:
        provider.planner(settings=unreachable).clarify(NAME, DESCRIPTION)
    assert wrong not in str(refused.value)
    assert caplog.records and all(
        key not in r.getMessage() and wrong not in r.getMessage() for r in caplog.records
    )


def test_the_operator_preloads_exactly_the_agents_it_holds_a_key_for(provider: Provider) -> None:
    assert preload.AGENT_MODULES[provider.key_env] == provider.planner.__module__.rsplit(".", 1)[0]
    script = (
        "import sys\n"
        "from prazium_operator.agents.preload import preload_configured_agents\n"
        "assert preload_configured_agents({}) is None\n"
        f"preload_configured_agents({{{provider.key_env!r}: 'k'}}).join(120)\n"
        "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env={k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [f"['{provider.name}']"]
