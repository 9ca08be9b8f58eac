"""Pluggable planning and coding agents (see DESIGN.md, "Executors, workers, agents")."""

from prazium_operator.agents.base import (
    QUESTION_TYPES,
    SPEC_DOCUMENTS,
    AgentError,
    Answers,
    Coder,
    PlanDocument,
    Planner,
    PlanTask,
    Question,
    SpecDocuments,
    plan_task,
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
    "Answers",
    "Coder",
    "PlanDocument",
    "PlanTask",
    "Planner",
    "Question",
    "SpecDocuments",
    "coder_names",
    "get_coder",
    "get_planner",
    "plan_task",
    "planner_names",
    "register_coder",
    "register_planner",
]
