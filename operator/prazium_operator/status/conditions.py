"""kstatus conditions (Ready / Reconciling / Stalled) beside a phase.

Tools such as `kubectl wait --for=condition=Ready`, Flux and Argo CD read these;
lastTransitionTime only moves when a condition's status changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from prazium_kit.models import Condition, ConditionStatus
from prazium_kit.timefmt import utc_now

MAX_MESSAGE = 1000
PHASE_CONDITIONS = ("Ready", "Reconciling", "Stalled")


@dataclass(frozen=True)
class PhaseRow:
    """What one phase of a kind means: its conditions, reason and the events it posts.

    k8s_event / journal_event name the Kubernetes Event reason and the journal event
    type posted when a resource enters the phase (None: none for that phase).
    """

    ready: bool
    reconciling: bool
    stalled: bool
    reason: str
    k8s_event: str | None = None
    journal_event: str | None = None
    warning: bool = False

    @property
    def event_reason(self) -> str:
        """The Kubernetes Event reason of this phase (it must have one)."""
        assert self.k8s_event is not None
        return self.k8s_event

    @property
    def journal_type(self) -> str:
        """The journal event type of this phase (it must have one)."""
        assert self.journal_event is not None
        return self.journal_event


def build(
    previous: list[Condition] | None,
    generation: int | None,
    *,
    ready: bool,
    reconciling: bool,
    stalled: bool,
    reason: str,
    message: str,
) -> list[Condition]:
    """The three conditions, keeping lastTransitionTime where a status did not change."""
    before = {c.type: c for c in previous or []}
    out = []
    for kind, value in zip(PHASE_CONDITIONS, (ready, reconciling, stalled), strict=True):
        status: ConditionStatus = "True" if value else "False"
        old = before.get(kind)
        out.append(
            Condition(
                type=kind,
                status=status,
                reason=reason,
                message=message[:MAX_MESSAGE],
                lastTransitionTime=old.last_transition_time
                if old is not None and old.status == status
                else utc_now(),
                observedGeneration=generation,
            )
        )
    # Conditions of their own (a Run's Published) are kept as they are.
    out += [c for c in previous or [] if c.type not in PHASE_CONDITIONS]
    return out


def from_row(
    previous: list[Condition] | None,
    generation: int | None,
    row: PhaseRow,
    message: str,
    reason: str | None = None,
) -> list[Condition]:
    """The phase's conditions; reason, when given, says more precisely why than the
    phase's own (a run failed as RepairRoundsExhausted, a task Reused)."""
    return build(
        previous,
        generation,
        ready=row.ready,
        reconciling=row.reconciling,
        stalled=row.stalled,
        reason=reason or row.reason,
        message=message,
    )
