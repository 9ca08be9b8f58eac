"""The ``openai`` coder: the coding-agent loop (agents/loop) over Chat Completions tool
calling, on the official SDK.

Each request sends the whole conversation with ``tools`` (function definitions); the
reply's ``tool_calls`` (several per reply are normal) are carried out and answered
with one ``role: tool`` message per ``tool_call_id``, in order, before the next
request. Arguments arrive as JSON text and may be malformed (or cut off when
``finish_reason`` is ``length``): such a call is answered with an error, never guessed
at. OpenAI's prompt cache works on the repeated prefix by itself; its hits come back as
``usage.prompt_tokens_details.cached_tokens``. The SDK client is built once per attempt
(retries, backoff, ``Retry-After``, timeouts are the SDK's); its errors become
ModelFailure with the key masked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from prazium_operator.agents.loop.coder import LoopCoder
from prazium_operator.agents.loop.model import ChatSession, ModelFailure, ModelTurn, TurnEnd
from prazium_operator.agents.loop.tools import ToolCall, ToolResult, ToolSpec
from prazium_operator.agents.loop.usage import openai_usage
from prazium_operator.agents.openai.client import ChatSettings, OpenAIAgentError, _problem
from prazium_operator.agents.structured import endpoint

# What a tool message says before an error's text: Chat Completions has no error flag.
ERROR_PREFIX = "Error: "
_ENDS: dict[str, TurnEnd] = {
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "stop": "end",
    "length": "length",
    "content_filter": "refusal",
}


def parse_arguments(text: str | None, cut_off: bool) -> tuple[dict[str, Any] | None, str | None]:
    """A function call's arguments as an object, or why they are unusable."""
    if text is None or not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if cut_off:
            return None, "the reply was cut off at the output limit inside them"
        return None, f"not valid JSON: {exc.msg} at character {exc.pos}"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    return value, None


class OpenAIToolSession:
    provider = "openai"

    def __init__(
        self, settings: ChatSettings, system: str, user: str, tools: Sequence[ToolSpec]
    ) -> None:
        self.settings = settings
        self.model = settings.model
        self.sdk = openai.OpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_attempts - 1,
        )
        self.tools: list[Any] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
            for tool in tools
        ]
        self.messages: list[Any] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]

    def request(self) -> ModelTurn:
        key = self.settings.api_key
        try:
            # The SDK's own post (its auth, retries, timeouts and typed answer) rather
            # than chat.completions.create, whose walk over the whole conversation to
            # "transform" it cost 10-20 ms a step, growing with the conversation
            # (bench/bench_agent_loop.py); the body is plain JSON already.
            completion: object = self.sdk.post(
                "/chat/completions",
                body={"model": self.model, "messages": self.messages, "tools": self.tools},
                cast_to=ChatCompletion,
                options={"security": {"bearer_auth": True}},
            )
        except openai.OpenAIError as exc:
            raise ModelFailure(endpoint.failure(*_problem(exc), key)) from None
        except ValueError as exc:  # a 2xx body that does not parse as JSON
            raise ModelFailure(endpoint.unreadable(self.settings.base_url, exc, key)) from None
        if not isinstance(completion, ChatCompletion):
            raise ModelFailure(endpoint.unreadable(self.settings.base_url, completion, key))
        try:
            return self._turn(completion)
        except (AttributeError, TypeError, KeyError, ValueError) as exc:  # not the shape
            problem = endpoint.mask(f"{type(exc).__name__}: {exc}"[:300], key)
            raise ModelFailure(f"the answer is not a usable reply: {problem}") from None

    def _turn(self, completion: ChatCompletion) -> ModelTurn:
        key = self.settings.api_key
        usage = completion.usage
        details = usage.prompt_tokens_details if usage else None
        counted = openai_usage(
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            details.cached_tokens if details else 0,
        )
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice is not None else None
        if choice is None or message is None:
            raise ModelFailure("the response has no choices[0].message")
        end = _ENDS.get(str(choice.finish_reason), "end")
        if message.refusal:
            end = "refusal"
        cut_off = end == "length"
        calls: list[ToolCall] = []
        wire_calls: list[Any] = []
        for index, call in enumerate(message.tool_calls or []):
            call_id = call.id or f"call_{len(self.messages)}_{index}"
            if call.type == "function":
                name, raw = call.function.name, call.function.arguments
                arguments, problem = parse_arguments(raw, cut_off)
            else:  # a custom (free-text) tool call: none are offered
                name, raw = str(getattr(getattr(call, "custom", None), "name", "?")), ""
                arguments, problem = None, "only function tools are offered"
            calls.append(ToolCall(call_id, name, arguments, problem))
            wire_calls.append(
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": raw or "{}"},
                }
            )
        text = endpoint.mask(message.content or message.refusal or "", key)
        reply: dict[str, Any] = {"role": "assistant", "content": message.content}
        if wire_calls:
            reply["tool_calls"] = wire_calls
        self.messages.append(reply)
        if calls and end == "end":
            end = "tool_calls"
        return ModelTurn(text=text, calls=calls, end=end, usage=counted)

    def add_results(
        self, results: Sequence[tuple[ToolCall, ToolResult]], note: str | None = None
    ) -> None:
        for call, result in results:
            content = result.content if result.ok else ERROR_PREFIX + result.content
            self.messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
        if note:
            self.messages.append({"role": "user", "content": note})

    def add_user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    def close(self) -> None:
        self.sdk.close()


class OpenAILoopCoder(LoopCoder):
    """The registered ``openai`` coder."""

    error = OpenAIAgentError

    def __init__(
        self, model: str | None = None, settings: ChatSettings | None = None, **_: Any
    ) -> None:  # options other agents use (command, ...) are ignored
        # The key is read here, so a missing one fails the task with a clear message.
        chosen = settings or ChatSettings.from_env(model)

        def open_session(system: str, user: str, tools: Sequence[ToolSpec]) -> ChatSession:
            return OpenAIToolSession(chosen, system, user, tools)

        super().__init__(open_session)
