"""Pluggable planning and coding agents (see DESIGN.md, "Executors, workers, agents")."""

from prazium_operator.agents.base import (
    QUESTION_TYPES,
    SPEC_DOCUMENTS,
    AgentError,
    Coder,
    Planner,
)
from prazium_operator.agents.registry import (
    coder_names,
    get_coder,
    get_planner,
    planner_names,
    register_coder,
    register_planner,
)

__all__ = [
    "QUESTION_TYPES",
    "SPEC_DOCUMENTS",
    "AgentError",
    "Coder",
    "Planner",
    "coder_names",
    "get_coder",
    "get_planner",
    "planner_names",
    "register_coder",
    "register_planner",
]
