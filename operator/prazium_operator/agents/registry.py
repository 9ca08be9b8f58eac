"""Agents by name.

Factories are registered rather than instances so that importing the registry
never imports an agent's dependencies (HTTP clients, SDKs) until that agent is
actually chosen, and so each call gets a fresh, independently configured agent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prazium_operator.agents.base import Coder, Planner

PlannerFactory = Callable[..., Planner]
CoderFactory = Callable[..., Coder]

_PLANNERS: dict[str, PlannerFactory] = {}
_CODERS: dict[str, CoderFactory] = {}


def register_planner(name: str, factory: PlannerFactory) -> None:
    """Make ``get_planner(name)`` return ``factory(**options)``; re-registering replaces."""
    _PLANNERS[name] = factory


def register_coder(name: str, factory: CoderFactory) -> None:
    """Make ``get_coder(name)`` return ``factory(**options)``; re-registering replaces."""
    _CODERS[name] = factory


def planner_names() -> list[str]:
    return sorted(_PLANNERS)


def coder_names() -> list[str]:
    return sorted(_CODERS)


def get_planner(name: str, **options: Any) -> Planner:
    """The planner registered as ``name``; ValueError naming the known planners otherwise."""
    factory = _PLANNERS.get(name)
    if factory is None:
        known = ", ".join(planner_names())
        raise ValueError(f"unknown planner agent {name!r}; known agents: {known}")
    return factory(**options)


def get_coder(name: str, **options: Any) -> Coder:
    """The coder registered as ``name``; ValueError naming the known coders otherwise."""
    factory = _CODERS.get(name)
    if factory is None:
        known = ", ".join(coder_names())
        raise ValueError(f"unknown coder agent {name!r}; known agents: {known}")
    return factory(**options)


# The template agent is its own package (prazium_appgen, on top of the kit alone): a
# description-to-app generator, registered here like any other agent.
def _template_planner(model: str | None = None, **options: Any) -> Planner:
    # spec.agent.model names a language model; the template agent has none.
    from prazium_appgen import TemplatePlanner

    return TemplatePlanner(**options)


def _template_coder(model: str | None = None, **options: Any) -> Coder:
    from prazium_appgen import TemplateCoder

    return TemplateCoder(**options)


def _openai_planner(**options: Any) -> Planner:
    from prazium_operator.agents.openai import OpenAIPlanner

    return OpenAIPlanner(**options)


def _openai_coder(**options: Any) -> Coder:
    # The coding-agent loop (agents/loop) over the provider's tool calling.
    from prazium_operator.agents.openai.tools_client import OpenAILoopCoder

    return OpenAILoopCoder(**options)


def _anthropic_planner(**options: Any) -> Planner:
    from prazium_operator.agents.anthropic import AnthropicPlanner

    return AnthropicPlanner(**options)


def _anthropic_coder(**options: Any) -> Coder:
    from prazium_operator.agents.anthropic.tools_client import AnthropicLoopCoder

    return AnthropicLoopCoder(**options)


def _command_coder(**options: Any) -> Coder:
    from prazium_operator.agents.command import CommandCoder

    return CommandCoder(**options)


def agent_options(agent: Mapping[str, object]) -> dict[str, str]:
    """The factory options spec.agent carries for planners and coders (the model, if any)."""
    model = agent.get("model")
    return {"model": str(model)} if model else {}


register_planner("template", _template_planner)
register_coder("template", _template_coder)
register_planner("openai", _openai_planner)
register_coder("openai", _openai_coder)
register_planner("anthropic", _anthropic_planner)
register_coder("anthropic", _anthropic_coder)
register_coder("command", _command_coder)
