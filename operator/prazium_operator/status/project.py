"""A Project's phase and conditions: one table, one phase rule, the helpers that set them."""

from __future__ import annotations

from prazium_kit.models import (
    RUN_ACTIVE_PHASES,
    Condition,
    ProjectPhase,
    ProjectSpec,
    ProjectStatus,
)
from prazium_operator.status.conditions import PhaseRow, build, from_row

# Projects post no Kubernetes or journal events of their own (runs do).
PHASES: dict[ProjectPhase, PhaseRow] = {
    "draft": PhaseRow(ready=False, reconciling=False, stalled=False, reason="AwaitingQuestions"),
    "clarifying": PhaseRow(ready=False, reconciling=False, stalled=False, reason="AwaitingAnswers"),
    "spec_review": PhaseRow(
        ready=False, reconciling=False, stalled=False, reason="AwaitingApproval"
    ),
    "approved": PhaseRow(ready=True, reconciling=False, stalled=False, reason="Approved"),
    "building": PhaseRow(ready=True, reconciling=True, stalled=False, reason="Building"),
    "built": PhaseRow(ready=True, reconciling=False, stalled=False, reason="Built"),
    "failed": PhaseRow(ready=False, reconciling=False, stalled=True, reason="BuildFailed"),
    "archived": PhaseRow(ready=False, reconciling=False, stalled=False, reason="Archived"),
}

# What the user should do next, when the reconciler has nothing more specific to say.
DEFAULT_MESSAGES: dict[ProjectPhase, str] = {
    "clarifying": "answer status.questions in spec.answers (an empty list uses defaults)",
    "spec_review": "review status.spec.documents and set spec.approval.specVersion",
    "approved": "spec approved; create a Run to build it",
    "building": "a run is building the approved spec",
    "built": "the latest run built the approved spec",
    "failed": "the latest run failed",
    "archived": "archived; no new runs",
}

PLANNING = "Planning"  # reason while the planner works (handlers never block on it)
UNKNOWN_AGENT = "UnknownAgent"
AGENT_FAILED = "AgentFailed"


def project_phase(status: ProjectStatus, archived: bool) -> ProjectPhase:
    """The Project's phase from its spec state and its latest run (one rule, used everywhere)."""
    if archived:
        return "archived"
    spec_state = status.spec
    version = spec_state.version if spec_state else None
    if not version:
        return "clarifying" if status.questions else "draft"
    assert spec_state is not None
    if spec_state.approved_version != version:
        return "spec_review"
    latest = status.latest_run
    if latest is not None and latest.spec_version == version:
        if latest.phase in RUN_ACTIVE_PHASES:
            return "building"
        if latest.phase == "succeeded":
            return "built"
        if latest.phase == "failed":
            return "failed"
    return "approved"


def phase_conditions(status: ProjectStatus, generation: int | None) -> list[Condition]:
    phase = status.phase or "draft"
    message = status.message or DEFAULT_MESSAGES.get(phase, phase)
    return from_row(status.conditions, generation, PHASES[phase], message)


def set_phase(status: ProjectStatus, archived: bool, generation: int | None) -> None:
    """Derive phase and conditions from the rest of status (in place)."""
    status.phase = project_phase(status, archived)
    status.conditions = phase_conditions(status, generation)


def stalled_conditions(
    status: ProjectStatus, generation: int | None, reason: str, message: str
) -> list[Condition]:
    """The planner cannot help until the spec (or the agent's endpoint) changes."""
    return build(
        status.conditions,
        generation,
        ready=False,
        reconciling=False,
        stalled=True,
        reason=reason,
        message=message,
    )


def planning_conditions(
    spec: ProjectSpec, status: ProjectStatus, generation: int | None
) -> list[Condition]:
    planner = spec.chosen_agent.planner
    doing = "writing the spec documents" if status.questions else "writing clarifying questions"
    return build(
        status.conditions,
        generation,
        ready=False,
        reconciling=True,
        stalled=False,
        reason=PLANNING,
        message=f"the {planner} planner is {doing}",
    )
