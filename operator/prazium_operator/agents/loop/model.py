"""What the loop needs of a provider: a conversation that makes one model request at a
time and takes tool results back. agents/openai/tools_client.py and
agents/anthropic/tools_client.py speak their provider's own tool calling over its SDK;
the loop (driver.py) never sees a wire format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from prazium_operator.agents.base import AgentError
from prazium_operator.agents.loop.tools import ToolCall, ToolResult, ToolSpec
from prazium_operator.agents.loop.usage import RequestUsage

# tool_calls: the reply asks for tools; end: it does not; length: cut off at the
# output limit; refusal: the model declined.
TurnEnd = Literal["tool_calls", "end", "length", "refusal"]


@dataclass(frozen=True)
class ModelTurn:
    text: str
    calls: list[ToolCall] = field(default_factory=list)
    end: TurnEnd = "end"
    usage: RequestUsage = field(default_factory=RequestUsage)


class ModelFailure(AgentError):
    """The provider could not be used (after the SDK's retries) or answered something
    unusable; the message never shows the key."""


class ChatSession(Protocol):
    provider: str
    model: str

    def request(self) -> ModelTurn:
        """One model request with the conversation so far; its reply joins it."""
        ...

    def add_results(
        self, results: Sequence[tuple[ToolCall, ToolResult]], note: str | None = None
    ) -> None:
        """The results of the last reply's tool calls (every one of them, in order),
        and an optional remark of the loop's after them."""
        ...

    def add_user(self, text: str) -> None:
        """A message of the loop's (a nudge) after a reply without tool calls."""
        ...

    def close(self) -> None: ...


class SessionFactory(Protocol):
    def __call__(self, system: str, user: str, tools: Sequence[ToolSpec]) -> ChatSession: ...
