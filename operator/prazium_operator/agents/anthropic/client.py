"""A small client for the Anthropic Messages API.

Speaks ``POST {base_url}/v1/messages`` (headers ``x-api-key`` and
``anthropic-version: 2023-06-01``) and gets structured answers by forcing a
single tool whose ``input_schema`` is the answer's schema; the answer is the
``input`` of the ``tool_use`` content block. Settings come from the environment
only (never from custom-resource specs):

* ``PRAZIUM_ANTHROPIC_BASE_URL`` (default ``https://api.anthropic.com``);
* ``ANTHROPIC_API_KEY``; it is never logged and is masked out of every error
  message;
* ``PRAZIUM_ANTHROPIC_MODEL``, used when spec.agent.model names none;
* ``PRAZIUM_ANTHROPIC_MAX_TOKENS`` (default 8192);
* ``PRAZIUM_ANTHROPIC_TIMEOUT`` (seconds per request, default 120) and
  ``PRAZIUM_ANTHROPIC_MAX_ATTEMPTS`` (default 4): 429, 5xx and 529
  ("overloaded") answers and transport errors are retried with exponential
  backoff (``retry-after`` is honoured, capped at 30 s).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prazium_operator.agents.base import AgentError
from prazium_operator.agents.structured import transport

log = logging.getLogger("prazium.agents.anthropic")

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
BASE_URL_ENV = "PRAZIUM_ANTHROPIC_BASE_URL"
API_KEY_ENV = "ANTHROPIC_API_KEY"
MODEL_ENV = "PRAZIUM_ANTHROPIC_MODEL"
MAX_TOKENS_ENV = "PRAZIUM_ANTHROPIC_MAX_TOKENS"
TIMEOUT_ENV = "PRAZIUM_ANTHROPIC_TIMEOUT"
MAX_ATTEMPTS_ENV = "PRAZIUM_ANTHROPIC_MAX_ATTEMPTS"
_TEXT_CHARS = 200


class AnthropicAgentError(AgentError):
    """The endpoint could not be used or answered something unusable; the message says why."""


@dataclass(frozen=True)
class MessagesSettings:
    base_url: str
    api_key: str
    model: str
    max_tokens: int = 8192
    timeout: float = 120.0
    max_attempts: int = 4
    backoff: float = 1.0

    def __repr__(self) -> str:  # never show the key, not even in a traceback's repr
        return f"MessagesSettings(base_url={self.base_url!r}, model={self.model!r})"

    @classmethod
    def from_env(cls, model: str | None = None, environ: Mapping[str, str] | None = None,
                 **overrides: Any) -> MessagesSettings:
        env = os.environ if environ is None else environ
        values = transport.endpoint_from_env(
            env, agent="anthropic", error=AnthropicAgentError, model=model,
            key_env=API_KEY_ENV, model_env=MODEL_ENV, base_url_env=BASE_URL_ENV,
            default_base_url=DEFAULT_BASE_URL, timeout_env=TIMEOUT_ENV,
            attempts_env=MAX_ATTEMPTS_ENV)
        try:
            max_tokens = int(env.get(MAX_TOKENS_ENV) or 8192)
        except ValueError as exc:
            raise AnthropicAgentError(f"{MAX_TOKENS_ENV}: {exc}") from exc
        if max_tokens < 1:
            raise AnthropicAgentError(f"{MAX_TOKENS_ENV} must be positive, not {max_tokens}")
        values["max_tokens"] = max_tokens
        values.update(overrides)
        return cls(**values)


class MessagesClient:
    def __init__(self, settings: MessagesSettings) -> None:
        self.settings = settings

    def complete_json(self, system: str, user: str, schema_name: str,
                      schema: dict[str, Any]) -> Any:
        """The input the model gives the forced tool ``schema_name`` for these messages."""
        body = {
            "model": self.settings.model,
            "max_tokens": self.settings.max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": user}],
            "tools": [{"name": schema_name,
                       "description": f"Submit the answer: the {schema_name.replace('_', ' ')}"
                                      " asked for, exactly in this schema.",
                       "input_schema": schema}],
            "tool_choice": {"type": "tool", "name": schema_name},
        }
        key = self.settings.api_key
        data = transport.post_json(
            f"{self.settings.base_url}/v1/messages", body,
            {"x-api-key": key, "anthropic-version": API_VERSION,
             "content-type": "application/json"},
            secret=key, timeout=self.settings.timeout, max_attempts=self.settings.max_attempts,
            backoff=self.settings.backoff, error=AnthropicAgentError, log=log)
        try:
            return _tool_input(data, schema_name)
        except AnthropicAgentError as exc:
            raise AnthropicAgentError(transport.mask(str(exc), key)) from None


def _tool_input(data: Any, schema_name: str) -> Any:
    """The ``input`` of the ``tool_use`` block calling ``schema_name``."""
    content = data.get("content") if isinstance(data, Mapping) else None
    if not isinstance(content, list):
        raise AnthropicAgentError(f"{schema_name}: the response has no content list")
    stop = data.get("stop_reason")
    if stop == "max_tokens":
        raise AnthropicAgentError(
            f"{schema_name}: the answer was cut off (stop_reason max_tokens); raise"
            f" {MAX_TOKENS_ENV}")
    if stop == "refusal":
        raise AnthropicAgentError(f"{schema_name}: the model refused to answer")
    for block in content:
        if (isinstance(block, Mapping) and block.get("type") == "tool_use"
                and block.get("name") == schema_name):
            answer = block.get("input")
            if not isinstance(answer, Mapping):
                raise AnthropicAgentError(
                    f"{schema_name}: the tool input is a {type(answer).__name__},"
                    " not an object")
            return dict(answer)
    text = " ".join(str(b.get("text", "")) for b in content
                    if isinstance(b, Mapping) and b.get("type") == "text")
    raise AnthropicAgentError(
        f"{schema_name}: the response has no tool_use block for {schema_name!r}"
        f" (stop_reason {stop!r}){': ' + repr(text[:_TEXT_CHARS]) if text else ''}")
