"""Provider-neutral parts of the LLM agents (``openai``, ``anthropic``).

Every step is one request for a JSON answer under a schema; only how that JSON is
obtained differs per provider. Modules: ``schemas`` (the strict JSON schemas),
``prompts``, ``validate`` (every answer is checked before use), ``transport`` (POST
with bounded retries and masked errors) and ``agent`` (the planner and coder,
built on any :class:`~prazium_operator.agents.structured.agent.JsonClient`).
"""
