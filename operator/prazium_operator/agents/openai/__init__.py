"""The ``openai`` agent: planner and coder over any OpenAI-compatible endpoint.

OpenAI, vLLM, Ollama, llama.cpp's server, LiteLLM...: anything speaking the Chat
Completions protocol with ``response_format`` JSON schemas. Only ``client``
(HTTP, settings from the environment) is OpenAI's own; prompts, schemas, retries
and the checks of every answer live in :mod:`prazium_operator.agents.structured`.
"""

from prazium_operator.agents.openai.agent import OpenAICoder, OpenAIPlanner
from prazium_operator.agents.openai.client import ChatSettings, OpenAIAgentError

__all__ = ["ChatSettings", "OpenAIAgentError", "OpenAICoder", "OpenAIPlanner"]
