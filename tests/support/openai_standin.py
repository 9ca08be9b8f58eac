"""A stand-in for a paid OpenAI-compatible endpoint (see llm_standin.py).

It speaks the Chat Completions protocol (``POST /v1/chat/completions``) and
checks the Bearer key; a tampered answer that is a str is sent as raw content.
A request with ``tools`` and no ``response_format`` is a coding agent's turn: the
conversation must follow the protocol's tool-calling rules (every ``tool_calls`` id
answered by a ``role: tool`` message, in order, before anything else), and the
scripted reply goes back as ``tool_calls`` with a ``usage`` block
(``prompt_tokens_details.cached_tokens``).
"""

from __future__ import annotations

import json
from typing import Any

from prazium_operator.agents.structured.prompts import parse_inputs
from tests.support.agent_sessions import (
    Reply,
    Result,
    SessionView,
    estimate_usage,
    first_inputs,
)
from tests.support.llm_standin import LLMStandin

FINISH_REASONS = {"tool_use": "tool_calls", "end": "stop", "length": "length", "refusal": "stop"}
ERROR_PREFIX = "Error: "


class OpenAIStandin(LLMStandin):
    route = "/v1/chat/completions"
    base_path = "/v1"

    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "type": "auth" if status == 401 else "error"}}

    def auth_refusal(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any] | None:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, self.error_body(401, "invalid api key")
        return None

    def refusal(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any] | None:
        return None

    def schema_and_inputs(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return (
            body["response_format"]["json_schema"]["name"],
            parse_inputs(body["messages"][-1]["content"]),
        )

    def envelope(self, answer: Any, body: dict[str, Any]) -> Any:
        content = answer if isinstance(answer, str) else json.dumps(answer)
        return {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "model": body.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                }
            ],
        }

    # -- coding-agent sessions ------------------------------------------------------

    def is_session(self, body: dict[str, Any]) -> bool:
        return bool(body.get("tools")) and "response_format" not in body

    def session_view(self, body: dict[str, Any]) -> SessionView:
        for tool in body["tools"]:
            assert tool.get("type") == "function", f"tool {tool} is not a function tool"
            function = tool["function"]
            assert function.get("name") and function.get("parameters", {}).get("type") == "object"
        messages = body["messages"]
        assert messages[0]["role"] == "system" and messages[1]["role"] == "user", "system, user"
        task_id, inputs = first_inputs(messages[1]["content"])
        pending: list[str] = []  # tool_call ids still to be answered
        names: dict[str, str] = {}
        results: list[Result] = []
        notes: list[str] = []
        step = 0
        for message in messages[2:]:
            role = message.get("role")
            if role == "tool":
                call_id = message.get("tool_call_id")
                assert pending and call_id == pending[0], (
                    f"tool message for {call_id!r}, expected {pending[:1]}"
                )
                pending.pop(0)
                content = message.get("content")
                assert isinstance(content, str), "a tool message's content must be a string"
                is_error = content.startswith(ERROR_PREFIX)
                results.append(Result(call_id, names[call_id], content, is_error))
                continue
            assert not pending, f"tool_calls {pending} were not answered before a {role} message"
            if role == "assistant":
                step += 1
                results, notes = [], []
                for call in message.get("tool_calls") or []:
                    assert call.get("type") == "function" and call.get("id"), call
                    pending.append(call["id"])
                    names[call["id"]] = call["function"]["name"]
            elif role == "user":
                assert isinstance(message.get("content"), str), "user content must be text"
                notes.append(message["content"])
            else:
                raise AssertionError(f"unexpected role {role!r}")
        assert not pending, f"tool_calls {pending} were not answered"
        assert messages[-1]["role"] != "assistant", "the conversation ends with the model's turn"
        return SessionView(task_id, inputs, step, results, notes, body)

    def session_envelope(self, reply: Reply, body: dict[str, Any], view: SessionView) -> Any:
        calls = [
            {
                "id": f"call_{view.task_id}_{view.step}_{index}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.args if isinstance(call.args, str) else json.dumps(call.args),
                },
            }
            for index, call in enumerate(reply.calls)
        ]
        prefix = body["messages"][: _last_assistant(body["messages"]) + 1] if view.step else None
        prompt, completion, cached = estimate_usage(body, reply, prefix)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": (reply.text or None) if reply.stop != "refusal" else None,
            "refusal": reply.text if reply.stop == "refusal" else None,
        }
        if calls:
            message["tool_calls"] = calls
        return {
            "id": f"chatcmpl-{view.task_id}-{view.step}",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", ""),
            "choices": [
                {"index": 0, "finish_reason": FINISH_REASONS[reply.stop], "message": message}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        }


def _last_assistant(messages: list[dict[str, Any]]) -> int:
    return max(i for i, m in enumerate(messages) if m.get("role") == "assistant")
