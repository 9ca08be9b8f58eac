"""The Messages API client, on the official ``anthropic`` SDK.

Gets structured answers by forcing a single tool whose ``input_schema`` is the
answer's schema; the answer is the ``input`` of the ``tool_use`` content block.
The SDK brings the retries (429, 5xx, 529 "overloaded" and transport errors,
exponential backoff with jitter, ``retry-after`` honoured), the timeout and the
typed errors, which become an :class:`AnthropicAgentError` whose message never
shows the key. The key goes in ``x-api-key`` with ``anthropic-version:
2023-06-01``, the Messages API's documented API-key headers (the SDK would send
it as a Bearer token with its own newer version). Settings come from the
environment only (never from custom-resource specs):

* ``PRAZIUM_ANTHROPIC_BASE_URL``, else the SDK's ``ANTHROPIC_BASE_URL``, else
  ``https://api.anthropic.com``;
* ``ANTHROPIC_API_KEY``; it is never logged and is masked out of every error
  message;
* ``PRAZIUM_ANTHROPIC_MODEL``, used when spec.agent.model names none;
* ``PRAZIUM_ANTHROPIC_MAX_TOKENS`` (default 8192);
* ``PRAZIUM_ANTHROPIC_TIMEOUT`` (seconds per request, default 120) and
  ``PRAZIUM_ANTHROPIC_MAX_ATTEMPTS`` (attempts per call, default 4).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.types import Message

from prazium_operator.agents.base import AgentError
from prazium_operator.agents.structured import endpoint

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
BASE_URL_ENV = "PRAZIUM_ANTHROPIC_BASE_URL"
SDK_BASE_URL_ENV = "ANTHROPIC_BASE_URL"
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

    def __repr__(self) -> str:  # never show the key, not even in a traceback's repr
        return f"MessagesSettings(base_url={self.base_url!r}, model={self.model!r})"

    @classmethod
    def from_env(
        cls, model: str | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> MessagesSettings:
        env = os.environ if environ is None else environ
        values = endpoint.endpoint_from_env(
            env,
            agent="anthropic",
            error=AnthropicAgentError,
            model=model,
            key_env=API_KEY_ENV,
            model_env=MODEL_ENV,
            base_url_envs=(BASE_URL_ENV, SDK_BASE_URL_ENV),
            default_base_url=DEFAULT_BASE_URL,
            timeout_env=TIMEOUT_ENV,
            attempts_env=MAX_ATTEMPTS_ENV,
        )
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

    def complete_json(
        self, system: str, user: str, schema_name: str, schema: dict[str, Any]
    ) -> Any:
        """The input the model gives the forced tool ``schema_name`` for these messages."""
        key, url = self.settings.api_key, self.settings.base_url
        try:
            message = self._create(system, user, schema_name, schema)
        except anthropic.AnthropicError as exc:
            raise AnthropicAgentError(endpoint.failure(*_problem(exc), key)) from None
        except ValueError as exc:  # a 2xx body that does not parse as JSON
            raise AnthropicAgentError(endpoint.unreadable(url, exc, key)) from None
        if not isinstance(message, Message):  # a 2xx body that is not JSON, as text
            raise AnthropicAgentError(endpoint.unreadable(url, message, key))
        try:
            return _tool_input(message, schema_name)
        except AnthropicAgentError as exc:  # the answer may quote the key back
            raise AnthropicAgentError(endpoint.mask(str(exc), key)) from None

    def _create(self, system: str, user: str, schema_name: str, schema: dict[str, Any]) -> Message:
        settings = self.settings
        with _ApiKeyClient(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_attempts - 1,
            default_headers={"anthropic-version": API_VERSION},
        ) as sdk:
            return sdk.messages.create(
                model=settings.model,
                max_tokens=settings.max_tokens,
                system=system,
                messages=[{"role": "user", "content": user}],
                tools=[
                    {
                        "name": schema_name,
                        "description": f"Submit the answer: the {schema_name.replace('_', ' ')}"
                        " asked for, exactly in this schema.",
                        "input_schema": schema,
                    }
                ],
                tool_choice={"type": "tool", "name": schema_name},
                # Given per request, so the SDK does not refuse a large max_tokens
                # without streaming.
                timeout=settings.timeout,
            )


class _ApiKeyClient(anthropic.Anthropic):
    """The SDK's client, sending the key as ``x-api-key`` (which the SDK accepts as
    authentication) instead of a Bearer token. Through the client, not per request:
    the SDK logs per-request headers at DEBUG."""

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key} if self.api_key else {}


def _problem(exc: anthropic.AnthropicError) -> tuple[str, int]:
    """What failed, and after how many attempts."""
    if isinstance(exc, anthropic.APIStatusError):
        return endpoint.status_problem(exc.response), endpoint.attempts_made(exc.response.request)
    if isinstance(exc, anthropic.APIConnectionError):
        return endpoint.transport_problem(exc, exc.request), endpoint.attempts_made(exc.request)
    return f"{type(exc).__name__}: {exc}", 1  # e.g. an answer the SDK could not read


def _tool_input(message: Message, schema_name: str) -> Any:
    """The ``input`` of the ``tool_use`` block calling ``schema_name``."""
    content = message.content
    if not isinstance(content, list):
        raise AnthropicAgentError(f"{schema_name}: the response has no content list")
    stop = message.stop_reason
    if stop == "max_tokens":
        raise AnthropicAgentError(
            f"{schema_name}: the answer was cut off (stop_reason max_tokens); raise"
            f" {MAX_TOKENS_ENV}"
        )
    if stop == "refusal":
        raise AnthropicAgentError(f"{schema_name}: the model refused to answer")
    for block in content:
        if block.type == "tool_use" and block.name == schema_name:
            # The SDK does not validate answers, so the input may be any JSON value.
            answer: object = block.input
            if not isinstance(answer, Mapping):
                raise AnthropicAgentError(
                    f"{schema_name}: the tool input is a {type(answer).__name__}, not an object"
                )
            return dict(answer)
    text = " ".join(block.text for block in content if block.type == "text")
    raise AnthropicAgentError(
        f"{schema_name}: the response has no tool_use block for {schema_name!r}"
        f" (stop_reason {stop!r}){': ' + repr(text[:_TEXT_CHARS]) if text else ''}"
    )
