"""The agent interface, as the operator's agents and the worker import it.

The protocols and the shapes planners and coders exchange are the kit's
(:mod:`prazium_kit.agentapi`), so that agents shipped as their own packages
implement them without importing the operator; this module names them for the
code inside the operator.
"""

from prazium_kit.agentapi import (
    QUESTION_TYPES,
    SPEC_DOCUMENTS,
    AgentError,
    Answers,
    Coder,
    PlanDocument,
    Planner,
    PlanTask,
    Question,
    QuestionType,
    SpecDocuments,
    plan_document,
    plan_task,
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
    "QuestionType",
    "SpecDocuments",
    "plan_document",
    "plan_task",
]
