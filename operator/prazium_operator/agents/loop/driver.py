"""The loop: one model request per step, its tool calls carried out, their real results
sent back, until the task is done or a bound stops it.

Each step: check the bounds (steps, wall time, tool output fed back), the budget
(tokens, cost) and the operator's stop file; make one request; record its usage;
carry out every tool call of the reply in order (several per reply are normal) and
send all their results back in one turn. A reply without tool calls is nudged once;
a second one in a row ends the attempt as if the model had called finish. finish is
accepted only when the task's expected outputs exist and its tests pass; otherwise the
test output is finish's error and the loop goes on. The same call returning the same
result ``stuck_repeats`` times in a row stops the attempt (StuckLoop). An attempt that
stops for any other reason than Finished runs the task's tests once more, so its
message says whether they fail and with what output.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from prazium_operator.agents.base import PlanTask
from prazium_operator.agents.loop import prompts
from prazium_operator.agents.loop.attempt import Attempt, Outcome
from prazium_operator.agents.loop.bounds import Bounds, StuckDetector, call_key
from prazium_operator.agents.loop.commands import CommandBox, CommandOutcome
from prazium_operator.agents.loop.contract import StopReason
from prazium_operator.agents.loop.model import ChatSession, ModelFailure, ModelTurn
from prazium_operator.agents.loop.tools import (
    TOOL_NAMES,
    ToolCall,
    ToolError,
    ToolResult,
    Workspace,
)
from prazium_operator.agents.loop.transcript import Transcript, describe
from prazium_operator.agents.loop.usage import UsageMeter, stop_requested

# Of the tests' output, what a failed task's message carries (its end).
FAILURE_OUTPUT_CHARS = 1500
SUMMARY_CHARS = 500
# Replies cut off at the output limit in a row before the model is given up on.
MAX_CUT_OFF_REPLIES = 3
# The final test run of a stopped attempt (to say whether the tests fail) is short.
FINAL_CHECK_SECONDS = 120.0


def _tail(text: str, chars: int = FAILURE_OUTPUT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= chars else "..." + text[-chars:]


class Driver:
    def __init__(
        self,
        *,
        task: PlanTask,
        session: ChatSession,
        workspace: Workspace,
        box: CommandBox,
        attempt: Attempt,
        tests: list[str] | None,
        transcript: Transcript,
    ) -> None:
        self.task = task
        self.task_id = str(task.get("id", "?"))
        self.session = session
        self.workspace = workspace
        self.box = box
        self.attempt = attempt
        self.tests = tests
        self.transcript = transcript
        self.bounds = Bounds(attempt.limits)
        self.stuck = StuckDetector(attempt.limits.stuck_repeats)
        self.meter = UsageMeter(
            session.provider, session.model, attempt.budget, attempt.limits.max_tokens
        )
        self.last_tests: CommandOutcome | None = None

    # -- the loop -------------------------------------------------------------------

    def run(self) -> Outcome:
        nudged = False
        cut_off = 0
        while True:
            blocked = self._blocked()
            if blocked is not None:
                return self._stop(*blocked)
            try:
                turn = self.session.request()
            except ModelFailure as exc:
                return self._stop("ModelError", str(exc))
            step = self._record(turn)
            cut_off = cut_off + 1 if turn.end == "length" else 0
            if cut_off >= MAX_CUT_OFF_REPLIES:
                return self._stop(
                    "ModelError",
                    f"{cut_off} replies in a row were cut off at the model's output limit",
                )
            if not turn.calls:
                if turn.end == "refusal":
                    return self._stop("ModelError", f"the model refused: {turn.text[:300]!r}")
                if turn.end == "length":
                    self.session.add_user(prompts.CUT_OFF)
                    continue
                if not nudged:
                    nudged = True
                    self.session.add_user(prompts.NUDGE)
                    continue
                return self._gave_up(turn.text)
            nudged = False
            outcome = self._carry_out(step, turn)
            if outcome is not None:
                return outcome

    def _record(self, turn: ModelTurn) -> int:
        self.bounds.steps += 1
        self.meter.add(turn.usage)
        self.attempt.on_usage(
            self.meter.requests, self.session.provider, self.session.model, turn.usage
        )
        self.transcript.reply(self.bounds.steps, len(turn.calls), turn.end, turn.usage)
        return self.bounds.steps

    def _carry_out(self, step: int, turn: ModelTurn) -> Outcome | None:
        results: list[tuple[ToolCall, ToolResult]] = []
        stuck: ToolCall | None = None
        for call in turn.calls:
            result = self.dispatch(call)
            self.transcript.tool(step, call, result)
            if result.finished:
                summary = str((call.arguments or {}).get("summary") or "").strip()
                return self._outcome("Finished", summary[:SUMMARY_CHARS] or "finished")
            results.append((call, result))
            if self.stuck.stuck(call_key(call.name, call.arguments), result.ok, result.content):
                stuck = call
        if stuck is not None:
            repeats = self.attempt.limits.stuck_repeats
            return self._stop(
                "StuckLoop",
                f"{stuck.name} {describe(stuck)} returned the same result {repeats} times in a row",
            )
        self.bounds.output_bytes += sum(result.size for _, result in results)
        note = prompts.CUT_OFF if turn.end == "length" else None
        self.session.add_results(results, note)
        return None

    def _blocked(self) -> tuple[StopReason, str] | None:
        spent = self.meter.exceeded()
        if spent is not None:
            return "BudgetExceeded", spent
        stop = stop_requested(self.attempt.stop_file)
        if stop is not None:
            return "BudgetExceeded", f"stopped by the operator: {stop}"
        return self.bounds.before_request()

    # -- tools ------------------------------------------------------------------------

    def dispatch(self, call: ToolCall) -> ToolResult:
        if call.name not in TOOL_NAMES:
            known = ", ".join(sorted(TOOL_NAMES))
            return ToolResult(False, f"unknown tool {call.name[:64]!r}; the tools are: {known}", "")
        if call.arguments is None:
            return ToolResult(
                False,
                f"the arguments of {call.name} could not be read ({call.problem}): send"
                " them as one JSON object matching the tool's parameters",
                "",
            )
        if self.bounds.remaining() <= 0:
            return ToolResult(False, "not carried out: the attempt's time is up", "")
        args = call.arguments
        try:
            if call.name == "run":
                return self._run(args)
            if call.name == "finish":
                return self._finish()
            method = getattr(self.workspace, call.name)
            result: ToolResult = method(args)
            return result
        except ToolError as exc:
            return ToolResult(False, str(exc), "")
        except OSError as exc:
            return ToolResult(False, f"{call.name} failed: {exc.strerror or exc}", "")

    def _run(self, args: Mapping[str, object]) -> ToolResult:
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("argument 'command' must be a non-empty string")
        outcome = self.box.run_shell(command, self.bounds.command_timeout(args.get("timeout")))
        content = f"$ {command}\n[{outcome.describe()}]\n{outcome.output}"
        summary = f"{outcome.describe()}, {outcome.total_bytes} B output"
        return ToolResult(not outcome.timed_out, content, summary, False, outcome.seconds)

    def _missing_outputs(self) -> list[str]:
        root = self.workspace.root
        return [p for p in self.task.get("expectedOutputs") or [] if not (root / p).is_file()]

    def _run_tests(self, timeout: float) -> CommandOutcome | None:
        if self.tests is None:
            return None
        self.last_tests = self.box.run(self.tests, timeout)
        return self.last_tests

    def _finish(self) -> ToolResult:
        missing = self._missing_outputs()
        if missing:
            return ToolResult(
                False,
                f"not done: expected outputs are missing: {', '.join(missing)}",
                f"missing {len(missing)} expected outputs",
            )
        outcome = self._run_tests(self.bounds.command_timeout())
        if outcome is None:
            return ToolResult(True, "done (the task owns no tests)", "no tests -> done", True)
        assert self.tests is not None
        if outcome.passed:
            return ToolResult(
                True,
                "the task's tests pass: done",
                f"tests pass ({outcome.describe()})",
                True,
                outcome.seconds,
            )
        return ToolResult(
            False,
            f"not done: the task's tests fail ({outcome.describe()}).\n"
            f"$ {shlex.join(self.tests)}\n{outcome.output}\n"
            "Fix the code, then call finish again.",
            f"tests fail ({outcome.describe()}, {outcome.total_bytes} B output)",
            False,
            outcome.seconds,
        )

    # -- ends -------------------------------------------------------------------------

    def _gave_up(self, text: str) -> Outcome:
        """The model stopped calling tools: done if the task is, else TestsFailing."""
        verdict = self._finish()
        self.transcript.note(f"the model stopped calling tools; done check: {verdict.summary}")
        if verdict.finished:
            return self._outcome(
                "Finished", f"the model stopped without calling finish; {verdict.content}"
            )
        detail = "the model stopped calling tools with the task not done"
        if self.last_tests is not None and not self.last_tests.passed:
            return self._outcome("TestsFailing", self._message("TestsFailing", detail))
        missing = self._missing_outputs()
        return self._outcome(
            "TestsFailing", self._message("TestsFailing", f"{detail}: missing {', '.join(missing)}")
        )

    def _stop(self, reason: StopReason, detail: str) -> Outcome:
        """Stopped before done: say whether the tests fail now, and with what."""
        if self.tests is not None and self.box.box is not None:
            try:
                limit = self.attempt.limits.command_timeout_seconds
                self._run_tests(min(FINAL_CHECK_SECONDS, limit))
            except OSError as exc:
                self.transcript.note(f"final test run failed to start: {exc}")
        return self._outcome(reason, self._message(reason, detail))

    def _message(self, reason: StopReason, detail: str) -> str:
        steps = self.bounds.steps
        text = f"{self.task_id}: the agent stopped ({reason}: {detail}) after {steps} steps"
        tests = self.last_tests
        if tests is None:
            return text
        if tests.passed:
            return f"{text}; the task's tests pass, but it did not finish"
        return f"{text}; the task's tests fail ({tests.describe()}):\n{_tail(tests.output)}"

    def _outcome(self, reason: StopReason, message: str) -> Outcome:
        total = self.meter.total
        self.transcript.stopped(reason, message, self.bounds.steps, total, self.meter.requests)
        return Outcome(
            reason=reason, message=message, steps=self.bounds.steps, usage=self.meter.summary()
        )
