"""Pure decisions of the Project's run bookkeeping (no store: unit-tested directly)."""

from __future__ import annotations

import enum


class Slot(enum.Enum):
    HELD = "held"  # the run holds the slot already
    TAKE = "take"  # free, or its holder finished: take it
    WAIT = "wait"  # another active run holds it


def slot_decision(holder: str | None, run: str, holder_active: bool) -> Slot:
    """The build slot (one active run per project) for run, given who holds it now."""
    if holder == run:
        return Slot.HELD
    if holder and holder_active:
        return Slot.WAIT
    return Slot.TAKE
