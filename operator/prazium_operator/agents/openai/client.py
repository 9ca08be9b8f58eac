"""A small Chat Completions client for any OpenAI-compatible endpoint.

Speaks ``POST {base_url}/chat/completions`` with ``response_format`` set to a
strict JSON schema and returns the decoded JSON of the first choice. Settings
come from the environment only (never from custom-resource specs):

* ``PRAZIUM_OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``);
* ``OPENAI_API_KEY``, sent as a Bearer token; it is never logged and is masked
  out of every error message;
* ``PRAZIUM_OPENAI_MODEL``, used when spec.agent.model names none;
* ``PRAZIUM_OPENAI_TIMEOUT`` (seconds per request, default 120) and
  ``PRAZIUM_OPENAI_MAX_ATTEMPTS`` (default 4): 429 and 5xx answers and
  transport errors are retried with exponential backoff (``Retry-After`` is
  honoured, capped at 30 s).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prazium_operator.agents.base import AgentError
from prazium_operator.agents.structured import transport

log = logging.getLogger("prazium.agents.openai")

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENV = "PRAZIUM_OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"
MODEL_ENV = "PRAZIUM_OPENAI_MODEL"
TIMEOUT_ENV = "PRAZIUM_OPENAI_TIMEOUT"
MAX_ATTEMPTS_ENV = "PRAZIUM_OPENAI_MAX_ATTEMPTS"


class OpenAIAgentError(AgentError):
    """The endpoint could not be used or answered something unusable; the message says why."""


@dataclass(frozen=True)
class ChatSettings:
    base_url: str
    api_key: str
    model: str
    timeout: float = 120.0
    max_attempts: int = 4
    backoff: float = 1.0

    def __repr__(self) -> str:  # never show the key, not even in a traceback's repr
        return f"ChatSettings(base_url={self.base_url!r}, model={self.model!r})"

    @classmethod
    def from_env(cls, model: str | None = None, environ: Mapping[str, str] | None = None,
                 **overrides: Any) -> ChatSettings:
        env = os.environ if environ is None else environ
        values = transport.endpoint_from_env(
            env, agent="openai", error=OpenAIAgentError, model=model, key_env=API_KEY_ENV,
            model_env=MODEL_ENV, base_url_env=BASE_URL_ENV, default_base_url=DEFAULT_BASE_URL,
            timeout_env=TIMEOUT_ENV, attempts_env=MAX_ATTEMPTS_ENV)
        values.update(overrides)
        return cls(**values)


class ChatClient:
    def __init__(self, settings: ChatSettings) -> None:
        self.settings = settings

    def complete_json(self, system: str, user: str, schema_name: str,
                      schema: dict[str, Any]) -> Any:
        """The JSON object the model returns for these messages under ``schema``."""
        body = {
            "model": self.settings.model,
            "messages": [{"role": "system", "content": system},
                         {"role": "user", "content": user}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": schema_name, "strict": True, "schema": schema}},
        }
        key = self.settings.api_key
        data = transport.post_json(
            f"{self.settings.base_url}/chat/completions", body,
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            secret=key, timeout=self.settings.timeout, max_attempts=self.settings.max_attempts,
            backoff=self.settings.backoff, error=OpenAIAgentError, log=log)
        try:
            return _content_json(data, schema_name)
        except OpenAIAgentError as exc:
            raise OpenAIAgentError(transport.mask(str(exc), key)) from None


def _content_json(data: Any, schema_name: str) -> Any:
    """The first choice's message content, decoded as JSON."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise OpenAIAgentError(
            f"{schema_name}: the response has no choices[0].message") from None
    if message.get("refusal"):
        raise OpenAIAgentError(f"{schema_name}: the model refused: {message['refusal']!r}"[:500])
    if choice.get("finish_reason") == "length":
        raise OpenAIAgentError(f"{schema_name}: the answer was cut off (finish_reason length);"
                               " the model's output limit is too small")
    content = message.get("content")
    if not isinstance(content, str) or not content.strip():
        raise OpenAIAgentError(f"{schema_name}: the response's message content is empty")
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise OpenAIAgentError(
            f"{schema_name}: the model's answer is not valid JSON ({exc}):"
            f" {content[:200]!r}") from None
