"""A stand-in for a paid OpenAI-compatible endpoint (see llm_standin.py).

It speaks the Chat Completions protocol (``POST /v1/chat/completions``) and
checks the Bearer key; a tampered answer that is a str is sent as raw content.
"""

from __future__ import annotations

import json
from typing import Any

from prazium_operator.agents.structured.prompts import parse_inputs
from tests.support.llm_standin import LLMStandin


class OpenAIStandin(LLMStandin):
    route = "/v1/chat/completions"
    base_path = "/v1"

    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"message": message, "type": "auth" if status == 401 else "error"}}

    def refusal(self, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, Any] | None:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, self.error_body(401, "invalid api key")
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
