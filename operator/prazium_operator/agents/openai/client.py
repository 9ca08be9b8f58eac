"""The Chat Completions client, on the official ``openai`` SDK, for any compatible endpoint.

Asks ``{base_url}/chat/completions`` with ``response_format`` set to a strict
JSON schema and returns the decoded JSON of the first choice. The SDK brings
the retries (429, 5xx and transport errors, exponential backoff with jitter,
``Retry-After`` honoured), the timeout and the typed errors, which become an
:class:`OpenAIAgentError` whose message never shows the key. Settings come from
the environment only (never from custom-resource specs):

* ``PRAZIUM_OPENAI_BASE_URL``, else the SDK's ``OPENAI_BASE_URL``, else
  ``https://api.openai.com/v1``;
* ``OPENAI_API_KEY``, sent as a Bearer token; it is never logged and is masked
  out of every error message;
* ``PRAZIUM_OPENAI_MODEL``, used when spec.agent.model names none;
* ``PRAZIUM_OPENAI_TIMEOUT`` (seconds per request, default 120) and
  ``PRAZIUM_OPENAI_MAX_ATTEMPTS`` (attempts per call, default 4).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from prazium_operator.agents.base import AgentError
from prazium_operator.agents.structured import endpoint

DEFAULT_BASE_URL = "https://api.openai.com/v1"
BASE_URL_ENV = "PRAZIUM_OPENAI_BASE_URL"
SDK_BASE_URL_ENV = "OPENAI_BASE_URL"
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

    def __repr__(self) -> str:  # never show the key, not even in a traceback's repr
        return f"ChatSettings(base_url={self.base_url!r}, model={self.model!r})"

    @classmethod
    def from_env(
        cls, model: str | None = None, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> ChatSettings:
        env = os.environ if environ is None else environ
        values = endpoint.endpoint_from_env(
            env,
            agent="openai",
            error=OpenAIAgentError,
            model=model,
            key_env=API_KEY_ENV,
            model_env=MODEL_ENV,
            base_url_envs=(BASE_URL_ENV, SDK_BASE_URL_ENV),
            default_base_url=DEFAULT_BASE_URL,
            timeout_env=TIMEOUT_ENV,
            attempts_env=MAX_ATTEMPTS_ENV,
        )
        values.update(overrides)
        return cls(**values)


class ChatClient:
    def __init__(self, settings: ChatSettings) -> None:
        self.settings = settings

    def complete_json(
        self, system: str, user: str, schema_name: str, schema: dict[str, Any]
    ) -> Any:
        """The JSON object the model returns for these messages under ``schema``."""
        key, url = self.settings.api_key, self.settings.base_url
        try:
            completion = self._create(system, user, schema_name, schema)
        except openai.OpenAIError as exc:
            raise OpenAIAgentError(endpoint.failure(*_problem(exc), key)) from None
        except ValueError as exc:  # a 2xx body that does not parse as JSON
            raise OpenAIAgentError(endpoint.unreadable(url, exc, key)) from None
        if not isinstance(completion, ChatCompletion):  # a 2xx body that is not JSON, as text
            raise OpenAIAgentError(endpoint.unreadable(url, completion, key))
        try:
            return _content_json(completion, schema_name)
        except OpenAIAgentError as exc:  # the answer may quote the key back
            raise OpenAIAgentError(endpoint.mask(str(exc), key)) from None

    def _create(
        self, system: str, user: str, schema_name: str, schema: dict[str, Any]
    ) -> ChatCompletion:
        settings = self.settings
        with openai.OpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout,
            max_retries=settings.max_attempts - 1,
        ) as sdk:
            return sdk.chat.completions.create(
                model=settings.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": schema_name, "strict": True, "schema": schema},
                },
            )


def _problem(exc: openai.OpenAIError) -> tuple[str, int]:
    """What failed, and after how many attempts."""
    if isinstance(exc, openai.APIStatusError):
        return endpoint.status_problem(exc.response), endpoint.attempts_made(exc.response.request)
    if isinstance(exc, openai.APIConnectionError):
        return endpoint.transport_problem(exc, exc.request), endpoint.attempts_made(exc.request)
    return f"{type(exc).__name__}: {exc}", 1  # e.g. an answer the SDK could not read


def _content_json(completion: ChatCompletion, schema_name: str) -> Any:
    """The first choice's message content, decoded as JSON."""
    choice = completion.choices[0] if completion.choices else None
    message = getattr(choice, "message", None)
    if choice is None or message is None:
        raise OpenAIAgentError(f"{schema_name}: the response has no choices[0].message")
    if message.refusal:
        raise OpenAIAgentError(f"{schema_name}: the model refused: {message.refusal!r}"[:500])
    if choice.finish_reason == "length":
        raise OpenAIAgentError(
            f"{schema_name}: the answer was cut off (finish_reason length);"
            " the model's output limit is too small"
        )
    content = message.content
    if not isinstance(content, str) or not content.strip():
        raise OpenAIAgentError(f"{schema_name}: the response's message content is empty")
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise OpenAIAgentError(
            f"{schema_name}: the model's answer is not valid JSON ({exc}): {content[:200]!r}"
        ) from None
