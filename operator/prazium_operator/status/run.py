"""A Run's phases: one table (conditions, reason, Kubernetes Event, journal event) and
the helper that writes a phase into a RunStatus."""

from __future__ import annotations

from prazium_kit import journal
from prazium_kit.models import RUN_FINAL_PHASES, Condition, RunPhase, RunStatus
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


# The events of the working phases are posted when the phase's work begins (with their
# payloads, by the run reconciler); the final ones when the final status is stored.
PHASES: dict[RunPhase, PhaseRow] = {
    "pending": _working("Pending"),
    "decomposing": _working("Decomposing", "RunStarted", journal.RUN_STARTED),
    "executing": _working("Executing"),
    "merging": _working("Merging", "Merging", journal.MERGE_STARTED),
    "verifying": _working("Verifying", None, journal.VERIFICATION_STARTED),
    "succeeded": PhaseRow(
        ready=True,
        reconciling=False,
        stalled=False,
        reason="Succeeded",
        k8s_event="RunSucceeded",
        journal_event=journal.RUN_COMPLETED,
    ),
    "failed": PhaseRow(
        ready=False,
        reconciling=False,
        stalled=True,
        reason="Failed",
        k8s_event="RunFailed",
        journal_event=journal.RUN_FAILED,
        warning=True,
    ),
    "cancelled": PhaseRow(
        ready=False,
        reconciling=False,
        stalled=False,
        reason="Cancelled",
        k8s_event="RunCancelled",
        journal_event=journal.RUN_CANCELLED,
        warning=True,
    ),
}
assert {p for p, row in PHASES.items() if not row.reconciling} == RUN_FINAL_PHASES


# Reasons more precise than "Failed" for a run whose verification could not be repaired.
REPAIR_ROUNDS_EXHAUSTED = "RepairRoundsExhausted"
REPAIR_FAILED = "RepairFailed"


def phase_conditions(
    previous: list[Condition] | None,
    generation: int | None,
    phase: RunPhase,
    message: str,
    reason: str | None = None,
) -> list[Condition]:
    """Ready / Reconciling / Stalled for a Run phase (reason: instead of the phase's)."""
    return from_row(previous, generation, PHASES[phase], message or phase, reason)


def set_phase(
    status: RunStatus,
    phase: RunPhase,
    message: str,
    generation: int | None,
    reason: str | None = None,
) -> None:
    """Phase, message, observedGeneration and conditions together (in place)."""
    status.phase = phase
    status.message = message
    status.observed_generation = generation
    status.conditions = phase_conditions(status.conditions, generation, phase, message, reason)


def reason_of(status: RunStatus) -> str | None:
    """The reason the conditions carry now (kept when a spec change is observed)."""
    ready = next((c for c in status.conditions or [] if c.type == "Ready"), None)
    return ready.reason if ready is not None else None


def observe(status: RunStatus, generation: int) -> None:
    """Acknowledge a spec change without a phase change (kstatus observedGeneration)."""
    status.observed_generation = generation
    status.conditions = phase_conditions(
        status.conditions,
        generation,
        status.phase or "pending",
        status.message or "",
        reason_of(status),
    )


# Fields set_phase / observe write, for the status patch.
PHASE_FIELDS = ("phase", "message", "observed_generation", "conditions")
OBSERVE_FIELDS = ("observed_generation", "conditions")
