"""A stand-in for the paid Anthropic Messages API (see llm_standin.py).

It speaks ``POST /v1/messages``, checks the ``x-api-key`` and
``anthropic-version`` headers and that exactly one tool is forced, and answers
with a ``tool_use`` block whose ``input`` is the answer; 529 "overloaded" can be
scripted with ``fail_next``. A request offering tools without forcing one is a
coding agent's turn: turns must alternate, every ``tool_use`` of a reply must be
answered by a ``tool_result`` block at the start of the next user turn, at most four
``cache_control`` breakpoints; the scripted reply goes back as ``tool_use`` blocks with
a ``usage`` block (``cache_read_input_tokens``, ``cache_creation_input_tokens``).
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

API_VERSION = "2023-06-01"
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
STOP_REASONS = {
    "tool_use": "tool_use",
    "end": "end_turn",
    "length": "max_tokens",
    "refusal": "refusal",
}
MAX_BREAKPOINTS = 4


class AnthropicStandin(LLMStandin):
    route = "/v1/messages"
    retry_statuses = frozenset({429, 529})

    def error_body(self, status: int, message: str) -> Any:
        return {
            "type": "error",
            "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        }

    def auth_refusal(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any] | None:
        if headers.get("x-api-key") != self.api_key:
            return 401, self.error_body(401, "invalid x-api-key")
        if headers.get("anthropic-version") != API_VERSION:
            return 400, self.error_body(400, f"anthropic-version must be {API_VERSION}")
        if not body.get("model") or not isinstance(body.get("max_tokens"), int):
            return 400, self.error_body(400, "model and max_tokens are required")
        for tool in body.get("tools") or []:
            if tool.get("input_schema", {}).get("type") != "object":
                return 400, self.error_body(400, "tools.input_schema.type must be 'object'")
        return None

    def refusal(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any] | None:
        tools, choice = body.get("tools") or [], body.get("tool_choice") or {}
        if len(tools) != 1 or choice != {"type": "tool", "name": tools[0]["name"]}:
            return 400, self.error_body(400, "expected exactly one tool, forced by tool_choice")
        return None

    def schema_and_inputs(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        content = body["messages"][-1]["content"]
        if isinstance(content, list):
            content = "".join(b.get("text", "") for b in content)
        return body["tools"][0]["name"], parse_inputs(content)

    def envelope(self, answer: Any, body: dict[str, Any]) -> Any:
        return {
            "id": "msg_standin",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_standin",
                    "name": body["tools"][0]["name"],
                    "input": answer,
                }
            ],
        }

    # -- coding-agent sessions ------------------------------------------------------

    def is_session(self, body: dict[str, Any]) -> bool:
        choice = body.get("tool_choice") or {"type": "auto"}
        return bool(body.get("tools")) and choice.get("type") == "auto"

    def session_view(self, body: dict[str, Any]) -> SessionView:
        breakpoints = json.dumps(body).count('"cache_control"')
        assert breakpoints <= MAX_BREAKPOINTS, f"{breakpoints} cache_control breakpoints"
        messages = body["messages"]
        for index, message in enumerate(messages):
            wanted = "user" if index % 2 == 0 else "assistant"
            assert message.get("role") == wanted, f"message {index} is not the {wanted}'s turn"
            content = message.get("content")
            assert isinstance(content, list) and content, f"message {index} has no content blocks"
            for block in content:
                if block.get("type") == "text":
                    assert block.get("text"), f"message {index} has an empty text block"
        assert len(messages) % 2 == 1, "the conversation ends with the model's turn"
        first = "".join(b.get("text", "") for b in messages[0]["content"])
        task_id, inputs = first_inputs(first)
        results: list[Result] = []
        notes: list[str] = []
        step = len(messages) // 2
        if step:
            asked = {
                b["id"]: b["name"] for b in messages[-2]["content"] if b.get("type") == "tool_use"
            }
            blocks = messages[-1]["content"]
            answers = [b for b in blocks if b.get("type") == "tool_result"]
            leading = blocks[: len(answers)]
            assert leading == answers, "tool_result blocks must come first in the user turn"
            assert [b["tool_use_id"] for b in answers] == list(asked), (
                f"tool_result ids {[b['tool_use_id'] for b in answers]} != tool_use ids"
                f" {list(asked)}"
            )
            for answer in answers:
                content = answer.get("content")
                if isinstance(content, list):
                    content = "".join(b.get("text", "") for b in content)
                assert isinstance(content, str), "tool_result content must be text"
                results.append(
                    Result(
                        answer["tool_use_id"],
                        asked[answer["tool_use_id"]],
                        content,
                        answer.get("is_error") is True,
                    )
                )
            notes = [b["text"] for b in blocks if b.get("type") == "text"]
        return SessionView(task_id, inputs, step, results, notes, body)

    def session_envelope(self, reply: Reply, body: dict[str, Any], view: SessionView) -> Any:
        content: list[dict[str, Any]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for index, call in enumerate(reply.calls):
            assert isinstance(call.args, dict), "the Messages API's tool input is an object"
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{view.task_id}_{view.step}_{index}",
                    "name": call.name,
                    "input": call.args,
                }
            )
        prefix = body["messages"][:-1] if view.step else None
        total, output, cached = estimate_usage(body, reply, prefix)
        written = max(0, total - cached - 3)
        return {
            "id": f"msg_{view.task_id}_{view.step}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "stop_reason": STOP_REASONS[reply.stop],
            "stop_sequence": None,
            "content": content,
            "usage": {
                "input_tokens": total - cached - written,
                "output_tokens": output,
                "cache_read_input_tokens": cached,
                "cache_creation_input_tokens": written,
            },
        }
