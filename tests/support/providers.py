"""The LLM providers the agent tests run over: one row per provider, so each test
is written once and runs for every provider (only its wire details differ)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prazium_operator.agents import AgentError
from prazium_operator.agents.anthropic import client as anthropic_client
from prazium_operator.agents.anthropic.agent import AnthropicCoder, AnthropicPlanner
from prazium_operator.agents.openai import client as openai_client
from prazium_operator.agents.openai.agent import OpenAICoder, OpenAIPlanner
from prazium_operator.agents.structured.agent import StructuredCoder, StructuredPlanner
from tests.support.anthropic_standin import API_VERSION, AnthropicStandin
from tests.support.llm_standin import LLMStandin
from tests.support.openai_standin import OpenAIStandin


@dataclass(frozen=True)
class Provider:
    name: str  # the agent's registered name, as in spec.agent.planner
    standin: type[LLMStandin]
    settings: Callable[..., Any]  # ChatSettings or MessagesSettings
    planner: type[StructuredPlanner]
    coder: type[StructuredCoder]
    error: type[AgentError]
    key_env: str
    base_url_env: str  # Prazium's own
    sdk_base_url_env: str  # the SDK's, honoured when Prazium's is unset
    model_env: str
    # (schema name, schema) a request body asks the answer under
    asked: Callable[[dict[str, Any]], tuple[str, Any]]
    # headers every request carries for this key, and headers none carries
    auth: Callable[[str], dict[str, str]]
    never_sent: tuple[str, ...]
    # what the agent says when the answer is a string, not a JSON object
    not_an_object: str


OPENAI = Provider(
    name="openai",
    standin=OpenAIStandin,
    settings=openai_client.ChatSettings,
    planner=OpenAIPlanner,
    coder=OpenAICoder,
    error=openai_client.OpenAIAgentError,
    key_env=openai_client.API_KEY_ENV,
    base_url_env=openai_client.BASE_URL_ENV,
    sdk_base_url_env=openai_client.SDK_BASE_URL_ENV,
    model_env=openai_client.MODEL_ENV,
    asked=lambda body: (
        body["response_format"]["json_schema"]["name"],
        body["response_format"]["json_schema"]["schema"],
    ),
    auth=lambda key: {"authorization": f"Bearer {key}"},
    never_sent=("x-api-key",),
    not_an_object="the model's answer is not valid JSON",
)

ANTHROPIC = Provider(
    name="anthropic",
    standin=AnthropicStandin,
    settings=anthropic_client.MessagesSettings,
    planner=AnthropicPlanner,
    coder=AnthropicCoder,
    error=anthropic_client.AnthropicAgentError,
    key_env=anthropic_client.API_KEY_ENV,
    base_url_env=anthropic_client.BASE_URL_ENV,
    sdk_base_url_env=anthropic_client.SDK_BASE_URL_ENV,
    model_env=anthropic_client.MODEL_ENV,
    asked=lambda body: (body["tool_choice"]["name"], body["tools"][0]["input_schema"]),
    auth=lambda key: {"x-api-key": key, "anthropic-version": API_VERSION},
    never_sent=("authorization",),
    not_an_object="the tool input is a str",
)

PROVIDERS = [OPENAI, ANTHROPIC]


def env_for(provider: Provider, base_url: str, key: str, model: str) -> dict[str, str]:
    """The operator's environment for this provider's endpoint."""
    return {provider.base_url_env: base_url, provider.key_env: key, provider.model_env: model}
