"""A Task's phases: one table (conditions, reason, Kubernetes Event, journal event) and
the helper that writes a phase into a TaskStatus.

Conditions make `kubectl wait --for=condition=Ready pztask --all` work: a succeeded
task is Ready, a failed one Stalled, the working phases Reconciling.
"""

from __future__ import annotations

from prazium_kit import journal
from prazium_kit.models import TASK_FINAL_PHASES, TaskPhase, TaskStatus
from prazium_operator.status.conditions import PhaseRow, from_row


def _working(
    reason: str, k8s_event: str | None = None, journal_event: str | None = None
) -> PhaseRow:
    return PhaseRow(
        ready=False,
        reconciling=True,
        stalled=False,
        reason=reason,
        k8s_event=k8s_event,
        journal_event=journal_event,
    )


PHASES: dict[TaskPhase, PhaseRow] = {
    "pending": _working("Pending"),
    "queued": _working("Queued", None, journal.TASK_QUEUED),
    "running": _working("Running", "Started"),
    "succeeded": PhaseRow(
        ready=True,
        reconciling=False,
        stalled=False,
        reason="Succeeded",
        k8s_event="Succeeded",
        journal_event=journal.TASK_COMPLETED,
    ),
    "failed": PhaseRow(
        ready=False,
        reconciling=False,
        stalled=True,
        reason="Failed",
        k8s_event="Failed",
        journal_event=journal.TASK_FAILED,
        warning=True,
    ),
    "cancelled": PhaseRow(
        ready=False,
        reconciling=False,
        stalled=False,
        reason="Cancelled",
        journal_event=journal.TASK_CANCELLED,
    ),
}
assert {p for p, row in PHASES.items() if not row.reconciling} == TASK_FINAL_PHASES


# A succeeded task that took over the commit of the run it retries instead of running.
REUSED = "Reused"


def set_phase(
    status: TaskStatus,
    phase: TaskPhase,
    message: str,
    generation: int | None,
    reason: str | None = None,
) -> None:
    """Phase, message, observedGeneration and conditions together (in place); reason
    instead of the phase's own (Reused)."""
    status.phase = phase
    status.message = message
    status.observed_generation = generation
    status.conditions = from_row(
        status.conditions, generation, PHASES[phase], message or phase, reason
    )


PHASE_FIELDS = ("phase", "message", "observed_generation", "conditions")
