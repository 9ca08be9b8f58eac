"""The ``openai`` agent: planner and coder over any OpenAI-compatible endpoint.

OpenAI, vLLM, Ollama, llama.cpp's server, LiteLLM...: anything speaking the Chat
Completions protocol with ``response_format`` JSON schemas. Modules: ``client``
(HTTP, settings from the environment, retries), ``schemas`` (the strict schemas),
``prompts``, ``validate`` (every answer is checked before use) and ``agent``.
"""

from prazium_operator.agents.openai.agent import OpenAICoder, OpenAIPlanner
from prazium_operator.agents.openai.client import ChatSettings, OpenAIAgentError

__all__ = ["ChatSettings", "OpenAIAgentError", "OpenAICoder", "OpenAIPlanner"]
