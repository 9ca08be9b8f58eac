"""The ``anthropic`` coder: the coding-agent loop (agents/loop) over Messages API tool
use, on the official SDK.

Each request sends the conversation with ``tools`` (name, description,
``input_schema``); the reply's ``tool_use`` blocks are carried out and answered in the
next user message with one ``tool_result`` block per ``tool_use_id`` (``is_error`` for
a tool error), first in its content as the API requires, a remark of the loop's after
them. The system prompt and the newest user message carry ``cache_control``
breakpoints, so each request reads the conversation so far from Anthropic's prompt
cache (``usage.cache_read_input_tokens``; what it writes:
``cache_creation_input_tokens``). ``stop_reason`` ``max_tokens`` means the reply was cut
off: its last ``tool_use`` may be incomplete and is answered with an error. The SDK
client is built once per attempt; its errors become ModelFailure with the key masked.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import anthropic
from anthropic.types import Message

from prazium_operator.agents.anthropic.client import (
    API_VERSION,
    AnthropicAgentError,
    MessagesSettings,
    _ApiKeyClient,
    _problem,
)
from prazium_operator.agents.loop.coder import LoopCoder
from prazium_operator.agents.loop.model import ChatSession, ModelFailure, ModelTurn, TurnEnd
from prazium_operator.agents.loop.tools import ToolCall, ToolResult, ToolSpec
from prazium_operator.agents.loop.usage import anthropic_usage
from prazium_operator.agents.structured import endpoint

CACHE = {"type": "ephemeral"}
_ENDS: dict[str, TurnEnd] = {
    "tool_use": "tool_calls",
    "end_turn": "end",
    "stop_sequence": "end",
    "pause_turn": "end",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "refusal",
}


class AnthropicToolSession:
    provider = "anthropic"

    def __init__(
        self, settings: MessagesSettings, system: str, user: str, tools: Sequence[ToolSpec]
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.sdk = _ApiKeyClient(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_attempts - 1,
            default_headers={"anthropic-version": API_VERSION},
        )
        self.system: list[Any] = [{"type": "text", "text": system, "cache_control": CACHE}]
        self.tools: list[Any] = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.parameters}
            for tool in tools
        ]
        self.messages: list[dict[str, Any]] = []
        self._user([{"type": "text", "text": user}])

    def _user(self, blocks: list[dict[str, Any]]) -> None:
        """Blocks of a user turn: joined to the last message when that is the user's
        already (after a reply with no content at all), as turns must alternate."""
        if self.messages and self.messages[-1]["role"] == "user":
            self.messages[-1]["content"].extend(blocks)
        else:
            self.messages.append({"role": "user", "content": blocks})

    def _with_breakpoint(self) -> list[Any]:
        """The messages with a cache breakpoint on the newest block (a copy: the
        breakpoint moves on with the conversation, at most four are allowed)."""
        messages = [*self.messages[:-1], copy.deepcopy(self.messages[-1])]
        messages[-1]["content"][-1]["cache_control"] = CACHE
        return messages

    def request(self) -> ModelTurn:
        key = self.settings.api_key
        try:
            # The SDK's own post (its auth, retries, timeouts and typed answer) rather
            # than messages.create, whose walk over the whole conversation to
            # "transform" it cost 10-20 ms a step, growing with the conversation
            # (bench/bench_agent_loop.py); the body is plain JSON already. The timeout is
            # given, so a large max_tokens unstreamed is not refused.
            message: object = self.sdk.post(
                "/v1/messages",
                body={
                    "model": self.model,
                    "max_tokens": self.settings.max_tokens,
                    "system": self.system,
                    "messages": self._with_breakpoint(),
                    "tools": self.tools,
                },
                cast_to=Message,
                options={"timeout": self.settings.timeout},
            )
        except anthropic.AnthropicError as exc:
            raise ModelFailure(endpoint.failure(*_problem(exc), key)) from None
        except ValueError as exc:  # a 2xx body that does not parse as JSON
            raise ModelFailure(endpoint.unreadable(self.settings.base_url, exc, key)) from None
        if not isinstance(message, Message):
            raise ModelFailure(endpoint.unreadable(self.settings.base_url, message, key))
        try:
            return self._turn(message)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:  # not the shape
            problem = endpoint.mask(f"{type(exc).__name__}: {exc}"[:300], key)
            raise ModelFailure(f"the answer is not a usable reply: {problem}") from None

    def _turn(self, message: Message) -> ModelTurn:
        usage = message.usage
        counted = anthropic_usage(
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens,
        )
        end = _ENDS.get(str(message.stop_reason), "end")
        blocks: list[dict[str, Any]] = []
        calls: list[ToolCall] = []
        texts: list[str] = []
        for block in message.content if isinstance(message.content, list) else []:
            if block.type == "text":
                if block.text:
                    texts.append(block.text)
                    blocks.append({"type": "text", "text": block.text})
            elif block.type == "tool_use":
                given: object = block.input
                arguments = dict(given) if isinstance(given, Mapping) else None
                problem = None if arguments is not None else "not an object"
                calls.append(ToolCall(block.id, block.name, arguments, problem))
                wire = {"type": "tool_use", "id": block.id, "name": block.name}
                blocks.append({**wire, "input": arguments or {}})
        if end == "length" and calls:  # the last call was being written when it was cut
            last = calls[-1]
            calls[-1] = ToolCall(
                last.id, last.name, None, "the reply was cut off at the output limit inside them"
            )
        if blocks:
            self.messages.append({"role": "assistant", "content": blocks})
        if calls and end == "end":
            end = "tool_calls"
        text = endpoint.mask("\n".join(texts), self.settings.api_key)
        return ModelTurn(text=text, calls=calls, end=end, usage=counted)

    def add_results(
        self, results: Sequence[tuple[ToolCall, ToolResult]], note: str | None = None
    ) -> None:
        blocks: list[dict[str, Any]] = [
            {
                "type": "tool_result",
                "tool_use_id": call.id,
                "content": result.content or "(empty)",
                "is_error": not result.ok,
            }
            for call, result in results
        ]
        if note:
            blocks.append({"type": "text", "text": note})
        self._user(blocks)

    def add_user(self, text: str) -> None:
        self._user([{"type": "text", "text": text}])

    def close(self) -> None:
        self.sdk.close()


class AnthropicLoopCoder(LoopCoder):
    """The registered ``anthropic`` coder."""

    error = AnthropicAgentError

    def __init__(
        self, model: str | None = None, settings: MessagesSettings | None = None, **_: Any
    ) -> None:  # options other agents use (command, ...) are ignored
        # The key is read here, so a missing one fails the task with a clear message.
        chosen = settings or MessagesSettings.from_env(model)

        def open_session(system: str, user: str, tools: Sequence[ToolSpec]) -> ChatSession:
            return AnthropicToolSession(chosen, system, user, tools)

        super().__init__(open_session)
