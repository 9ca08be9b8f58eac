"""The ``openai`` planner and coder: one Chat Completions call per step, every answer checked.

Everything but the HTTP client is shared with the other LLM agents
(:mod:`prazium_operator.agents.structured`).
"""

from __future__ import annotations

from typing import Any

from prazium_operator.agents.openai.client import ChatClient, ChatSettings, OpenAIAgentError
from prazium_operator.agents.structured.agent import StructuredCoder, StructuredPlanner


def _client(model: str | None, settings: ChatSettings | None) -> ChatClient:
    # The key is read here, so a missing one fails the step that needs it with a clear message.
    return ChatClient(settings or ChatSettings.from_env(model))


class OpenAIPlanner(StructuredPlanner):
    error = OpenAIAgentError

    def __init__(
        self, model: str | None = None, settings: ChatSettings | None = None, **_: Any
    ) -> None:  # options other agents use (command, ...) are ignored
        super().__init__(_client(model, settings))


class OpenAICoder(StructuredCoder):
    error = OpenAIAgentError

    def __init__(
        self, model: str | None = None, settings: ChatSettings | None = None, **_: Any
    ) -> None:
        super().__init__(_client(model, settings))
