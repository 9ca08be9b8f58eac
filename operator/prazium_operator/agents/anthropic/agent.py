"""The ``anthropic`` planner and coder: one Messages call per step, every answer checked."""

from __future__ import annotations

from typing import Any

from prazium_operator.agents.anthropic.client import (
    AnthropicAgentError,
    MessagesClient,
    MessagesSettings,
)
from prazium_operator.agents.structured.agent import StructuredCoder, StructuredPlanner


def _client(model: str | None, settings: MessagesSettings | None) -> MessagesClient:
    # The key is read here, so a missing one fails the step that needs it with a clear message.
    return MessagesClient(settings or MessagesSettings.from_env(model))


class AnthropicPlanner(StructuredPlanner):
    error = AnthropicAgentError

    def __init__(
        self, model: str | None = None, settings: MessagesSettings | None = None, **_: Any
    ) -> None:  # options other agents use (command, ...) are ignored
        super().__init__(_client(model, settings))


class AnthropicCoder(StructuredCoder):
    error = AnthropicAgentError

    def __init__(
        self, model: str | None = None, settings: MessagesSettings | None = None, **_: Any
    ) -> None:
        super().__init__(_client(model, settings))
