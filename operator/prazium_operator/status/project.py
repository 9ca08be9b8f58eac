"""A Project's phase and conditions: one table, one phase rule, the helpers that set them,
and the Kubernetes Events a step's change of status posts (events_between)."""

from __future__ import annotations

from dataclasses import dataclass

from prazium_kit.models import (
    RUN_ACTIVE_PHASES,
    Condition,
    ProjectPhase,
    ProjectSpec,
    ProjectStatus,
)
from prazium_operator.status.conditions import PhaseRow, build, from_row

# A Project's Kubernetes Events follow what a step changed (events_between), not its
# phase alone; it has no journal of its own (runs do).
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


# Kubernetes Event reasons of a Project (kubectl describe project shows them).
QUESTIONS_READY = "QuestionsReady"
SPEC_WRITTEN = "SpecWritten"
APPROVED = "Approved"
STALLED = "Stalled"


@dataclass(frozen=True)
class ProjectEvent:
    reason: str
    message: str
    warning: bool = False


def _stalled(status: ProjectStatus) -> Condition | None:
    return next(
        (c for c in status.conditions or [] if c.type == "Stalled" and c.status == "True"), None
    )


def events_between(before: ProjectStatus, after: ProjectStatus) -> list[ProjectEvent]:
    """The events a step that took status from before to after posts: questions ready,
    a spec version written, a version approved, the Project stalled. Computed from the
    two statuses, so a step that changes nothing posts nothing."""
    events = []
    if after.questions and not before.questions:
        events.append(
            ProjectEvent(
                QUESTIONS_READY,
                f"{len(after.questions)} clarifying questions are ready in status.questions;"
                " answer them in spec.answers (an empty list uses the defaults)",
            )
        )
    old, new = before.spec, after.spec
    version = new.version if new else None
    if version and version != (old.version if old else None):
        assert new is not None
        source = "provided in spec.specDocuments" if new.source == "provided" else "written"
        events.append(
            ProjectEvent(
                SPEC_WRITTEN,
                f"spec version {version} {source}; review status.spec.documents and approve"
                f" it with spec.approval.specVersion: {version}",
            )
        )
    approved = new.approved_version if new else None
    if approved and approved != (old.approved_version if old else None):
        assert new is not None
        commit = f" (commit {new.commit_sha[:12]} on main)" if new.commit_sha else ""
        events.append(
            ProjectEvent(
                APPROVED, f"spec version {approved} approved{commit}; create a Run to build it"
            )
        )
    stalled = _stalled(after)
    if stalled is not None and _stalled(before) is None:
        why = stalled.message or stalled.reason or "no progress possible"
        events.append(ProjectEvent(STALLED, f"{stalled.reason}: {why}", warning=True))
    return events
