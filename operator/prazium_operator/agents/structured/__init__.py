"""Provider-neutral parts of the LLM agents (``openai``, ``anthropic``).

Every step is one request for a JSON answer under a schema; only how that JSON is
obtained differs per provider. Modules: ``schemas`` (the strict JSON schemas),
``prompts``, ``validate`` (every answer is checked before use), ``endpoint`` (settings
from the environment, SDK failures as masked one-line errors; the providers' SDKs
do the HTTP, retries and timeouts) and ``agent`` (the planner and coder,
built on any :class:`~prazium_operator.agents.structured.agent.JsonClient`).
"""
