"""Each attempt's transcript, one log line per model request and per tool call.

The worker's log capture sends every line to the attempt's kept log and to stdout,
so `kubectl logs`, the logs API and `prazium run logs` show it while the task runs.
A line summarises (paths, the command, sizes, ok or the error's first line, tokens);
it never carries a file's content or a command's output (only the last line of an
attempt that stopped before done carries the end of the tests' failing output, as the
task's message does), and the loop never holds a key to put in it.
"""

from __future__ import annotations

import logging

from prazium_operator.agents.loop.tools import ToolCall, ToolResult
from prazium_operator.agents.loop.usage import RequestUsage

log = logging.getLogger("prazium.agent")
ERROR_CHARS = 200


def describe(call: ToolCall) -> str:
    """A call's arguments, summarised for the transcript (never a file's content)."""
    args = call.arguments
    if args is None:
        return f"(arguments unreadable: {call.problem})"

    def text(name: str, limit: int = 120) -> str:
        value = args.get(name)
        return str(value)[:limit] if value is not None else ""

    if call.name in ("read_file", "write_file", "edit_file"):
        extra = ""
        if call.name == "write_file":
            extra = f" ({len(str(args.get('content') or '').encode())} B)"
        elif call.name == "edit_file":
            old, new = str(args.get("old_string") or ""), str(args.get("new_string") or "")
            extra = f" (-{len(old)}/+{len(new)} chars)"
        return f"path={text('path')}{extra}"
    if call.name == "run":
        return f"command={text('command', 200)!r}"
    if call.name == "search":
        return f"pattern={text('pattern', 60)!r} glob={text('glob') or '**'}"
    if call.name == "list_files":
        return f"glob={text('glob') or '**'}"
    if call.name == "finish":
        return f"summary={len(text('summary', 10_000))} chars"
    return f"({len(args)} arguments)"


def _tokens(usage: RequestUsage) -> str:
    cached = f", {usage.cached_input_tokens} cached" if usage.cached_input_tokens else ""
    return f"{usage.input_tokens} in{cached}, {usage.output_tokens} out"


class Transcript:
    def __init__(self, task_id: str, max_steps: int) -> None:
        self.task_id = task_id
        self.max_steps = max_steps

    def started(self, provider: str, model: str, tests: list[str] | None, source: str) -> None:
        log.info(
            "agent %s/%s on %s: tests %s (%s)",
            provider,
            model,
            self.task_id,
            " ".join(tests) if tests else "none",
            source,
            extra={"stream": "agent"},
        )

    def reply(self, step: int, calls: int, end: str, usage: RequestUsage) -> None:
        what = f"{calls} tool call{'s' if calls != 1 else ''}" if calls else f"no tool call ({end})"
        log.info(
            "step %s/%s: model replied with %s (tokens: %s)",
            step,
            self.max_steps,
            what,
            _tokens(usage),
            extra={
                "stream": "agent",
                "agentStep": step,
                "toolCalls": calls,
                "inputTokens": usage.input_tokens,
                "outputTokens": usage.output_tokens,
                "cachedInputTokens": usage.cached_input_tokens,
            },
        )

    def tool(self, step: int, call: ToolCall, result: ToolResult) -> None:
        if result.ok:
            outcome = f"ok: {result.summary}" if result.summary else "ok"
        else:
            lines = result.content.strip().splitlines()
            outcome = f"error: {lines[0][:ERROR_CHARS] if lines else ''}"
        log.info(
            "step %s: %s %s -> %s (%s B back)",
            step,
            call.name[:64],
            describe(call),
            outcome,
            result.size,
            extra={
                "stream": "agent",
                "agentStep": step,
                "tool": call.name[:64],
                "ok": result.ok,
                "resultBytes": result.size,
                "commandSeconds": round(result.command_seconds, 4),
            },
        )

    def note(self, text: str) -> None:
        log.info("%s", text, extra={"stream": "agent"})

    def stopped(
        self, reason: str, message: str, steps: int, total: RequestUsage, requests: int
    ) -> None:
        log.log(
            logging.INFO if reason == "Finished" else logging.WARNING,
            "stopped: %s after %s steps (%s requests; tokens: %s): %s",
            reason,
            steps,
            requests,
            _tokens(total),
            message,
            extra={"stream": "agent", "reason": reason, "steps": steps},
        )
