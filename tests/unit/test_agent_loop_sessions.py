"""The coding-agent loop against scripted sessions of real HTTP stand-ins, for both
providers' tool calling (tests/support/agent_sessions.py).

Every scripted step checks what the loop sent back before it answers (the real test
output, the real refusal), so a loop that fakes or drops a result fails the session;
every test also asserts the stand-in saw no failed check and never the key.
"""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from prazium_operator.agents.anthropic.tools_client import AnthropicLoopCoder
from prazium_operator.agents.loop import limits, prompts
from prazium_operator.agents.loop.attempt import Attempt, Outcome
from prazium_operator.agents.loop.coder import LoopCoder, LoopStopped
from prazium_operator.agents.loop.contract import AgentBudget, AgentLimits
from prazium_operator.agents.loop.usage import RequestUsage
from prazium_operator.agents.openai.tools_client import OpenAILoopCoder
from tests.support.agent_sessions import Call, Reply, SessionView, Step, say
from tests.support.llm_standin import LLMStandin
from tests.support.providers import ANTHROPIC, OPENAI, PROVIDERS, Provider

KEYS = {OPENAI.name: "sk-loop-unit-31415926535", ANTHROPIC.name: "sk-ant-loop-unit-27182818"}
CODERS: dict[str, type[LoopCoder]] = {
    OPENAI.name: OpenAILoopCoder,
    ANTHROPIC.name: AnthropicLoopCoder,
}
TASK: dict[str, Any] = {
    "id": "task-001",
    "slug": "calc",
    "description": "Add numbers",
    "instructions": "Write calc.add and its test.",
    "pathScope": ["calc/**", "tests/**"],
    "expectedOutputs": ["calc/ops.py", "tests/test_ops.py"],
    "testCommand": ["python", "-m", "unittest", "-v", "tests.test_ops"],
}
BUGGY = "def add(a, b):\n    return a - b\n"
TEST = (
    "import unittest\n\nfrom calc.ops import add\n\n\n"
    "class AddTest(unittest.TestCase):\n"
    "    def test_add(self):\n"
    "        self.assertEqual(add(2, 3), 5)\n"
)
FAILURE = "AssertionError: -1 != 5"


@pytest.fixture(scope="module", params=PROVIDERS, ids=lambda p: p.name)
def provider(request: pytest.FixtureRequest) -> Provider:
    found: Provider = request.param
    return found


@pytest.fixture(scope="module")
def standin(provider: Provider) -> Iterator[LLMStandin]:
    with provider.standin(KEYS[provider.name]) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(standin: LLMStandin, monkeypatch: pytest.MonkeyPatch) -> None:
    standin.scripts.clear()
    standin.session_views.clear()
    standin.session_failures.clear()
    standin.faults.clear()
    if os.geteuid() != 0:  # the run tool's sandbox, as the command coder's
        monkeypatch.setenv("PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS", "true")


@pytest.fixture
def worktree(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "wt"
    (root / "calc").mkdir(parents=True)
    (root / "calc" / "__init__.py").write_text("")
    (root / "NOTES.md").write_text("add must add its two arguments\n")
    return root


def _coder(provider: Provider, standin: LLMStandin, **settings: Any) -> LoopCoder:
    values = {"timeout": 30.0, "max_attempts": 2, **settings}
    config = provider.settings(
        base_url=standin.base_url, api_key=KEYS[provider.name], model="standin-1", **values
    )
    return CODERS[provider.name](settings=config)


def _limits(**changes: object) -> limits.Limits:
    return limits.overridden(
        limits.from_settings(limits.LoopSettings()), AgentLimits.model_validate(changes)
    )


def _play(
    provider: Provider,
    standin: LLMStandin,
    worktree: pathlib.Path,
    steps: Sequence[Step],
    attempt: Attempt | None = None,
    task: dict[str, Any] | None = None,
) -> tuple[Outcome, LoopStopped | None]:
    standin.script("task-001", list(steps))
    chosen = attempt or Attempt(limits=_limits())
    coder = _coder(provider, standin)
    coder.bind_attempt(chosen)
    stopped = None
    try:
        coder.code(task or TASK, {"SPEC.md": "# Calc\n"}, worktree)  # type: ignore[arg-type]
    except LoopStopped as exc:
        stopped = exc
    assert chosen.outcome is not None
    return chosen.outcome, stopped


def _write(path: str, content: str) -> Call:
    return Call("write_file", {"path": path, "content": content})


RUN_TESTS = Call("run", {"command": "python -m unittest -v tests.test_ops"})


def test_a_failing_test_is_run_read_fixed_and_the_task_finishes(
    provider: Provider,
    standin: LLMStandin,
    worktree: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="prazium.agent")

    def look(view: SessionView) -> Reply:
        assert view.inputs["task"]["id"] == "task-001"
        assert view.inputs["testCommand"] == TASK["testCommand"]
        return Reply([Call("read_file", {"path": "NOTES.md"}), Call("list_files", {})])

    def write(view: SessionView) -> Reply:
        view.expect("read_file", contains="add must add its two arguments", error=False)
        view.expect("list_files", contains="calc/__init__.py")
        return Reply(
            [
                _write("tests/__init__.py", ""),
                _write("tests/test_ops.py", TEST),
                _write("calc/ops.py", BUGGY),
            ]
        )

    def run(view: SessionView) -> Reply:
        assert [r.is_error for r in view.results] == [False, False, False]
        return Reply([RUN_TESTS])

    def fix(view: SessionView) -> Reply:
        # The real output of the real test run, not a made-up one.
        view.expect("run", contains=[FAILURE, "FAILED (failures=1)", "[exit 1 in"])
        return Reply(
            [
                Call(
                    "edit_file",
                    {"path": "calc/ops.py", "old_string": "a - b", "new_string": "a + b"},
                )
            ]
        )

    def rerun(view: SessionView) -> Reply:
        view.expect("edit_file", contains="edited calc/ops.py", error=False)
        return Reply([RUN_TESTS])

    def finish(view: SessionView) -> Reply:
        view.expect("run", contains=["Ran 1 test", "OK", "[exit 0 in"], absent=[FAILURE])
        return Reply([Call("finish", {"summary": "add adds, its test passes"})])

    outcome, stopped = _play(provider, standin, worktree, [look, write, run, fix, rerun, finish])
    assert stopped is None and standin.session_failures == []
    assert (outcome.reason, outcome.message, outcome.steps) == (
        "Finished",
        "add adds, its test passes",
        6,
    )
    assert "a + b" in (worktree / "calc" / "ops.py").read_text()
    assert outcome.usage is not None and outcome.usage.requests == 6
    assert outcome.usage.provider == provider.name and outcome.usage.model == "standin-1"
    assert outcome.usage.input_tokens > outcome.usage.cached_input_tokens > 0
    # The transcript: one line per reply and per call, the stop reason; no key.
    lines = [r.getMessage() for r in caplog.records if r.name == "prazium.agent"]
    assert any(
        line.startswith("step 4/40: model replied with 1 tool call (tokens: ") for line in lines
    )
    assert (
        "step 3: run command='python -m unittest -v tests.test_ops' -> ok: exit 1 in"
        in "\n".join(lines)
    )
    assert any(
        line.startswith(f"step 2: write_file path=calc/ops.py ({len(BUGGY)} B) -> ok: created")
        for line in lines
    )
    assert lines[-1].startswith("stopped: Finished after 6 steps (6 requests; tokens: ")
    assert not any(KEYS[provider.name] in line or BUGGY in line for line in lines)
    # The provider's own tool-calling wire shape went out.
    body = standin.session_views[-1].body
    names = [t["function"]["name"] if provider is OPENAI else t["name"] for t in body["tools"]]
    assert names == [
        "list_files",
        "read_file",
        "search",
        "write_file",
        "edit_file",
        "run",
        "finish",
    ]


def test_a_write_outside_the_scope_is_a_tool_error_and_the_session_recovers(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path
) -> None:
    fixed = BUGGY.replace("a - b", "a + b")

    def recover(view: SessionView) -> Reply:
        refused = view.expect(
            "write_file",
            contains="outside the task's pathScope ['calc/**', 'tests/**']",
            error=True,
        )
        assert refused.content.startswith(("refusing to write 'NOTES.md'", "Error: refusing"))
        return Reply(
            [
                _write("tests/__init__.py", ""),
                _write("tests/test_ops.py", TEST),
                _write("calc/ops.py", fixed),
            ]
        )

    outcome, stopped = _play(
        provider,
        standin,
        worktree,
        [say(_write("NOTES.md", "rewritten")), recover, say(Call("finish", {"summary": "done"}))],
    )
    assert stopped is None and outcome.reason == "Finished", outcome.message
    assert standin.session_failures == []
    assert (worktree / "NOTES.md").read_text() == "add must add its two arguments\n"


def test_several_calls_bad_arguments_unknown_tools_and_a_text_reply_are_answered(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path
) -> None:
    fixed = BUGGY.replace("a - b", "a + b")
    broken: list[Call] = [Call("delete_everything", {"path": "."}), Call("read_file", {"line": 3})]
    if provider is OPENAI:  # arguments are text on its wire: they may not even be JSON
        broken.append(Call("write_file", '{"path": "calc/ops.py", "content": '))

    def check_errors(view: SessionView) -> Reply:
        assert [r.name for r in view.results] == [c.name for c in broken]
        assert all(r.is_error for r in view.results), view.results
        assert (
            "unknown tool 'delete_everything'; the tools are: edit_file, finish"
            in view.results[0].content
        )
        assert "argument 'path' must be a string" in view.results[1].content
        if provider is OPENAI:
            assert "could not be read (not valid JSON" in view.results[2].content
        return Reply(text="I think the task is done.")

    def after_nudge(view: SessionView) -> Reply:
        assert view.notes == [prompts.NUDGE] and view.results == []
        return Reply(
            [
                _write("tests/__init__.py", ""),
                _write("tests/test_ops.py", TEST),
                _write("calc/ops.py", fixed),
            ],
            text="Writing the files.",
        )

    outcome, stopped = _play(
        provider,
        standin,
        worktree,
        [say(*broken), check_errors, after_nudge, say(Call("finish", {"summary": "ok"}))],
    )
    assert stopped is None and outcome.reason == "Finished" and outcome.steps == 4
    assert standin.session_failures == []


def test_a_model_that_stops_calling_tools_with_failing_tests_fails_the_task_saying_so(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path
) -> None:
    steps = [
        say(
            _write("tests/__init__.py", ""),
            _write("tests/test_ops.py", TEST),
            _write("calc/ops.py", BUGGY),
        ),
        say(text="Done, I believe."),
        say(text="Still done."),
    ]
    outcome, stopped = _play(provider, standin, worktree, steps)
    assert outcome.reason == "TestsFailing" and stopped is not None
    assert str(stopped).startswith(
        "task-001: the agent stopped (TestsFailing: the model stopped calling tools with the"
        " task not done) after 3 steps; the task's tests fail (exit 1 in"
    )
    assert FAILURE in str(stopped)


def test_finish_is_refused_until_the_tests_pass_and_expected_outputs_exist(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path
) -> None:
    def refused_missing(view: SessionView) -> Reply:
        view.expect(
            "finish",
            contains="not done: expected outputs are missing: calc/ops.py, tests/test_ops.py",
            error=True,
        )
        return Reply(
            [
                _write("tests/__init__.py", ""),
                _write("tests/test_ops.py", TEST),
                _write("calc/ops.py", BUGGY),
                Call("finish", {"summary": "x"}),
            ]
        )

    def refused_failing(view: SessionView) -> Reply:
        view.expect(
            "finish", contains=["not done: the task's tests fail (exit 1", FAILURE], error=True
        )
        return Reply(
            [
                Call("edit_file", {"path": "calc/ops.py", "old_string": "-", "new_string": "+"}),
                Call("finish", {"summary": "fixed"}),
            ]
        )

    outcome, stopped = _play(
        provider,
        standin,
        worktree,
        [say(Call("finish", {"summary": "nothing yet"})), refused_missing, refused_failing],
    )
    assert stopped is None and (outcome.reason, outcome.message) == ("Finished", "fixed")


def test_the_same_call_with_the_same_result_three_times_is_a_stuck_loop(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path
) -> None:
    read = Call("read_file", {"path": "NOTES.md"})
    outcome, stopped = _play(provider, standin, worktree, [say(read), say(read), say(read)])
    assert outcome.reason == "StuckLoop" and outcome.steps == 3
    assert "read_file path=NOTES.md returned the same result 3 times in a row" in str(stopped)
    assert standin.session_failures == []


def test_the_step_limit_with_tests_failing_carries_their_output(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path
) -> None:
    def again(view: SessionView) -> Reply:
        view.expect("run", contains=FAILURE)
        return Reply(
            [RUN_TESTS, Call("read_file", {"path": "calc/ops.py", "start_line": view.step})]
        )

    steps = [
        say(
            _write("tests/__init__.py", ""),
            _write("tests/test_ops.py", TEST),
            _write("calc/ops.py", BUGGY),
        ),
        say(RUN_TESTS),
        again,
        again,
    ]
    outcome, stopped = _play(
        provider, standin, worktree, steps, Attempt(limits=_limits(maxSteps=4))
    )
    assert outcome.reason == "StepLimit" and outcome.steps == 4
    message = str(stopped)
    assert message.startswith(
        "task-001: the agent stopped (StepLimit: 4 steps made, the limit is 4) after 4 steps;"
        " the task's tests fail (exit 1 in"
    )
    assert FAILURE in message and "FAILED (failures=1)" in message
    assert len(message) < 2000


def test_budgets_and_the_stop_file_end_the_attempt_before_the_next_request(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    # The attempt's own token limit.
    heavy = lambda _view: Reply([Call("list_files", {})], usage=(900, 200, 0))  # noqa: E731
    spent: list[tuple[int, str, str, RequestUsage]] = []
    attempt = Attempt(
        limits=_limits(maxTokens=1000),
        on_usage=lambda number, prov, model, used: spent.append((number, prov, model, used)),
    )
    outcome, stopped = _play(provider, standin, worktree, [heavy, heavy], attempt)
    assert outcome.reason == "BudgetExceeded" and outcome.steps == 1
    assert "BudgetExceeded: 1100 tokens spent of 1000 (the attempt's token limit)" in str(stopped)
    assert len(standin.session_requests("task-001")) == 1  # no request past the budget
    if provider is OPENAI:
        assert spent == [(1, "openai", "standin-1", RequestUsage(900, 200, 0, 0))]
    else:  # the stand-in reports most input as written to the cache
        assert [(n, p, m) for n, p, m, _ in spent] == [(1, "anthropic", "standin-1")]
        assert spent[0][3].input_tokens == 900 and spent[0][3].output_tokens == 200

    # A cost budget, priced per model.
    budget = AgentBudget.model_validate(
        {"maxCost": 0.002, "prices": {"standin-1": {"input": 1.0, "output": 2.0}}}
    )
    outcome, stopped = _play(
        provider, standin, worktree, [heavy, heavy, heavy], Attempt(limits=_limits(), budget=budget)
    )
    assert outcome.reason == "BudgetExceeded" and outcome.steps == 2
    assert "cost 0.0026 of 0.0020 (the budget's maxCost)" in str(stopped)
    assert outcome.usage is not None and outcome.usage.cost == pytest.approx(0.0026)

    # The operator's stop file, appearing while the attempt runs.
    stop = tmp_path / "results" / "stop"
    stop.parent.mkdir()

    def spend_elsewhere(view: SessionView) -> Reply:
        stop.write_text("the run's budget of 20000 tokens is spent\n")
        return Reply([Call("list_files", {})])

    outcome, stopped = _play(
        provider,
        standin,
        worktree,
        [spend_elsewhere, heavy],
        Attempt(limits=_limits(), stop_file=str(stop)),
    )
    assert outcome.reason == "BudgetExceeded" and outcome.steps == 1
    assert "stopped by the operator: the run's budget of 20000 tokens is spent" in str(stopped)


def test_refusals_cut_off_replies_and_endpoint_errors_are_model_errors(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path
) -> None:
    outcome, stopped = _play(
        provider, standin, worktree, [say(text="I will not do that.", end="refusal")]
    )
    assert outcome.reason == "ModelError" and "the model refused: 'I will not do that.'" in str(
        stopped
    )

    def told(view: SessionView) -> Reply:
        assert view.notes == [prompts.CUT_OFF]
        return Reply(text="half a", end="length")

    outcome, stopped = _play(
        provider,
        standin,
        worktree,
        [say(text="half a", end="length"), told, say(text="x", end="length")],
    )
    assert outcome.reason == "ModelError" and outcome.steps == 3
    assert "3 replies in a row were cut off at the model's output limit" in str(stopped)

    standin.fail_next(400)
    outcome, stopped = _play(provider, standin, worktree, [say(Call("list_files", {}))])
    assert outcome.reason == "ModelError" and outcome.steps == 0
    assert "answered 400" in str(stopped) and KEYS[provider.name] not in str(stopped)

    standin.tamper_next(lambda _envelope: {"id": "x", "object": "chat.completion"})
    outcome, stopped = _play(provider, standin, worktree, [say(Call("list_files", {}))])
    assert outcome.reason == "ModelError"
    unusable = (
        "the response has no choices[0].message"
        if provider is OPENAI
        else "the answer is not a usable reply: AttributeError"
    )
    assert unusable in str(stopped), str(stopped)


def test_the_run_tool_reaches_neither_the_key_nor_the_workers_environment(
    provider: Provider,
    standin: LLMStandin,
    worktree: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The key is in the worker's environment (as from a credentials Secret) when the
    coder is built; the model's commands look for it every way they can. The stand-in
    refuses any request whose body holds the key, so a leak fails the session."""
    monkeypatch.setenv(provider.key_env, KEYS[provider.name])
    monkeypatch.setenv(provider.base_url_env, standin.base_url)
    monkeypatch.setenv(provider.model_env, "standin-1")
    probe = Call(
        "run",
        {
            "command": "env; echo ---; cat /proc/$PPID/environ; echo; cat /proc/$PPID/cmdline;"
            " echo; grep -a KEY /proc/$PPID/mem 2>&1 | head -c 200; echo; id -u;"
            " cat /var/run/secrets/kubernetes.io/serviceaccount/token; cat ~/.kube/config"
        },
    )

    def look(view: SessionView) -> Reply:
        found = view.expect("run", absent=[KEYS[provider.name], "API_KEY"])
        assert "Permission denied" in found.content or "No such file" in found.content
        assert "PRAZIUM_TASK_ID=task-001" in found.content
        return Reply([Call("finish", {"summary": "probed"})])

    standin.script("task-001", [say(probe), look])
    coder = CODERS[provider.name]()  # settings from the environment, as in a worker
    attempt = Attempt(limits=_limits())
    coder.bind_attempt(attempt)
    untested = {k: v for k, v in TASK.items() if k not in ("testCommand", "expectedOutputs")}
    coder.code(untested, {}, worktree)  # type: ignore[arg-type]
    assert attempt.outcome is not None and attempt.outcome.reason == "Finished"
    assert standin.session_failures == []
    assert len(standin.session_requests("task-001")) == 2
    assert provider.key_env not in os.environ  # gone once the client held it


def test_the_stand_in_catches_a_key_in_what_the_loop_sends(
    provider: Provider, standin: LLMStandin, worktree: pathlib.Path
) -> None:
    """The control for the test above: a key that does reach a tool result is caught."""
    leak = Call("run", {"command": f"echo {KEYS[provider.name][:8]}''{KEYS[provider.name][8:]}"})
    outcome, _ = _play(provider, standin, worktree, [say(leak), say(Call("finish", {}))])
    assert outcome.reason == "ModelError"
    assert standin.session_failures == ["task-001 step 1: the key was sent back"]
