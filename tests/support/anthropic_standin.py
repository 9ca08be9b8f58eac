"""A stand-in for the paid Anthropic Messages API (see llm_standin.py).

It speaks ``POST /v1/messages``, checks the ``x-api-key`` and
``anthropic-version`` headers and that exactly one tool is forced, and answers
with a ``tool_use`` block whose ``input`` is the answer; 529 "overloaded" can be
scripted with ``fail_next``.
"""

from __future__ import annotations

from typing import Any

from prazium_operator.agents.structured.prompts import parse_inputs
from tests.support.llm_standin import LLMStandin

API_VERSION = "2023-06-01"
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class AnthropicStandin(LLMStandin):
    route = "/v1/messages"
    retry_statuses = frozenset({429, 529})

    def error_body(self, status: int, message: str) -> Any:
        return {
            "type": "error",
            "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
        }

    def refusal(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any] | None:
        if headers.get("x-api-key") != self.api_key:
            return 401, self.error_body(401, "invalid x-api-key")
        if headers.get("anthropic-version") != API_VERSION:
            return 400, self.error_body(400, f"anthropic-version must be {API_VERSION}")
        if not body.get("model") or not isinstance(body.get("max_tokens"), int):
            return 400, self.error_body(400, "model and max_tokens are required")
        tools, choice = body.get("tools") or [], body.get("tool_choice") or {}
        if len(tools) != 1 or choice != {"type": "tool", "name": tools[0]["name"]}:
            return 400, self.error_body(400, "expected exactly one tool, forced by tool_choice")
        if tools[0].get("input_schema", {}).get("type") != "object":
            return 400, self.error_body(400, "tools.0.input_schema.type must be 'object'")
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
