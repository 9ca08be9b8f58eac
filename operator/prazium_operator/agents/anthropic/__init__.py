"""The ``anthropic`` agent: planner and coder over the Anthropic Messages API.

Only ``client`` (HTTP, settings from the environment, a forced tool for
structured answers) is Anthropic's own; prompts, schemas, retries and the checks
of every answer live in :mod:`prazium_operator.agents.structured`.
"""

from prazium_operator.agents.anthropic.agent import AnthropicCoder, AnthropicPlanner
from prazium_operator.agents.anthropic.client import AnthropicAgentError, MessagesSettings

__all__ = ["AnthropicAgentError", "AnthropicCoder", "AnthropicPlanner", "MessagesSettings"]
