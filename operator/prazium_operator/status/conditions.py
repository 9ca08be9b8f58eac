"""kstatus conditions (Ready / Reconciling / Stalled) beside a phase.

Tools such as `kubectl wait --for=condition=Ready`, Flux and Argo CD read these;
lastTransitionTime only moves when a condition's status changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(previous: list[dict[str, Any]] | None, generation: int | None, *, ready: bool,
          reconciling: bool, stalled: bool, reason: str, message: str) -> list[dict[str, Any]]:
    """The three conditions, keeping lastTransitionTime where a status did not change."""
    before = {c.get("type"): c for c in previous or []}
    out = []
    for kind, value in (("Ready", ready), ("Reconciling", reconciling), ("Stalled", stalled)):
        status = "True" if value else "False"
        old = before.get(kind) or {}
        condition: dict[str, Any] = {
            "type": kind, "status": status, "reason": reason, "message": message[:1000],
            "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == status
            else now_iso(),
        }
        if generation is not None:
            condition["observedGeneration"] = generation
        out.append(condition)
    return out
