"""Scripted tool-calling sessions for the LLM stand-ins (provider-neutral).

A coding agent's requests carry the whole conversation. The stand-in reads it back
into a SessionView (the task, the step: how many replies it has had, and the results
the loop sent for the last reply's tool calls) and answers with the script's next
Reply, which its provider's stand-in puts on the wire. A script step is a function of
the view: it checks what the loop sent back (``view.expect(...)``) before it answers,
so a test fails when the loop fakes, drops or reorders a result. A failed check is
recorded (``standin.session_failures``) and answered 400, which the loop reports as a
ModelError, so the task fails too.

Without a script for its task, a session plays a well-behaved model: it writes the
files the template coder produces for the task (all in one reply), then calls finish.
"""

from __future__ import annotations

import json
import pathlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from prazium_appgen import TemplateCoder
from prazium_operator.agents.structured.prompts import parse_inputs

End = Literal["tool_use", "end", "length", "refusal"]


@dataclass(frozen=True)
class Call:
    """A tool call the scripted model makes; args as a str goes out as it is (OpenAI's
    arguments are text, so a test can send malformed JSON)."""

    name: str
    args: dict[str, Any] | str = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    calls: Sequence[Call] = ()
    text: str = ""
    end: End | None = None  # default: tool_use with calls, else end
    # (input, output, cached input) tokens; default: estimated from the request's size
    usage: tuple[int, int, int] | None = None

    @property
    def stop(self) -> End:
        return self.end or ("tool_use" if self.calls else "end")


@dataclass(frozen=True)
class Result:
    """What the loop sent back for one of the last reply's tool calls."""

    call_id: str
    name: str
    content: str
    is_error: bool


class SessionCheckFailed(AssertionError):
    pass


@dataclass
class SessionView:
    task_id: str
    inputs: dict[str, Any]  # task, documents, testCommand (the loop's first message)
    step: int  # replies so far: 0 for the first request
    results: list[Result]  # for the previous reply's calls, in order
    notes: list[str]  # the loop's own words since the previous reply (nudges, remarks)
    body: dict[str, Any]
    # When the request arrived and the reply was sent (monotonic; bench_agent_loop.py).
    arrived: float = 0.0
    sent: float = 0.0

    def result(self, name: str | None = None) -> Result:
        found = [r for r in self.results if name is None or r.name == name]
        if not found:
            raise SessionCheckFailed(
                f"step {self.step}: no result of {name or 'any call'} came back:"
                f" {[r.name for r in self.results]}"
            )
        return found[-1]

    def expect(
        self,
        name: str | None = None,
        *,
        contains: Sequence[str] | str = (),
        error: bool | None = None,
        absent: Sequence[str] = (),
    ) -> Result:
        """The last result (of name) holds every text of contains, none of absent, and
        is (or is not) an error."""
        found = self.result(name)
        wanted = [contains] if isinstance(contains, str) else list(contains)
        missing = [text for text in wanted if text not in found.content]
        present = [text for text in absent if text in found.content]
        if missing or present or (error is not None and found.is_error != error):
            raise SessionCheckFailed(
                f"step {self.step}: the {found.name} result (error={found.is_error}) lacks"
                f" {missing} or holds {present}: {found.content[-1500:]!r}"
            )
        return found


Step = Callable[[SessionView], Reply]


def say(*calls: Call, text: str = "", end: End | None = None) -> Step:
    """A step that answers without checking anything."""
    return lambda _view: Reply(calls, text=text, end=end)


def template_files(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The files the template coder writes for the task (what a good model would)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        TemplateCoder().code(inputs["task"], inputs["documents"], root)
        return [
            {
                "path": str(p.relative_to(root)),
                "content": p.read_text(encoding="utf-8"),
                "executable": bool(p.stat().st_mode & 0o100),
            }
            for p in sorted(root.rglob("*"))
            if p.is_file()
        ]


def template_session(view: SessionView) -> Reply:
    """The default session: write the task's files, then finish."""
    if view.step == 0:
        return Reply([Call("write_file", f) for f in template_files(view.inputs)])
    errors = [r for r in view.results if r.is_error]
    if errors:
        raise SessionCheckFailed(f"a write failed: {errors[0].content[:500]}")
    if view.step == 1:
        return Reply([Call("finish", {"summary": f"wrote {len(view.results)} files"})])
    raise SessionCheckFailed(
        f"finish was refused: {view.results[-1].content[-1500:] if view.results else '?'}"
    )


def estimate_usage(body: dict[str, Any], reply: Reply, prefix: object) -> tuple[int, int, int]:
    """(input, output, cached) tokens: a token per 4 bytes, the conversation up to the
    previous reply counted as read from the cache (as a provider's prompt cache would)."""
    if reply.usage is not None:
        return reply.usage
    total = len(json.dumps(body)) // 4 + 1
    cached = min(total - 1, len(json.dumps(prefix)) // 4) if prefix else 0
    output = len(json.dumps([c.args for c in reply.calls])) // 4 + len(reply.text) // 4 + 1
    return total, output, cached


def first_inputs(text: str) -> tuple[str, dict[str, Any]]:
    inputs = parse_inputs(text)
    return str(inputs["task"]["id"]), inputs
