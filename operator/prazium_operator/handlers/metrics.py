"""Keeps the operator's view of Runs for its metrics (prazium_operator/metrics.py).

An event handler on the Runs kopf already watches: no extra watch, no API call,
nothing written; a Run's phase and tasksSummary are read off each event.
"""

from __future__ import annotations

from typing import Any

import kopf

from prazium_kit.kube import GROUP, RUNS, VERSION
from prazium_operator import metrics


@kopf.on.event(GROUP, VERSION, RUNS)
async def count_run(body: kopf.Body, type: str | None, **_: Any) -> None:
    uid = body.metadata.uid
    if uid:
        metrics.RUNS.observe(uid, body.get("status"), deleted=type == "DELETED")
