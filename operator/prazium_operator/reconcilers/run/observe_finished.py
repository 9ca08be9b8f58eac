"""A finished Run's later spec changes: observed at once (kstatus observedGeneration).

Its daemon is gone and nothing is left to do (a late spec.cancel changes nothing),
so the new generation is acknowledged as it arrives; a no-op unless it moved. How a
Run comes to its end is finish.py's.
"""

from __future__ import annotations

import asyncio

from kubernetes.client.exceptions import ApiException

from prazium_kit import resources
from prazium_kit.kube import RUNS
from prazium_kit.models import RUN_FINAL_PHASES, RunStatus, status_patch
from prazium_operator.status import run as run_status


def needs_observing(status: RunStatus, generation: int | None) -> bool:
    return (
        generation is not None
        and status.phase in RUN_FINAL_PHASES
        and status.observed_generation != generation
    )


async def observe(namespace: str, name: str, status: RunStatus, generation: int) -> None:
    run_status.observe(status, generation)
    try:
        await asyncio.to_thread(
            resources.patch_status,
            namespace,
            RUNS,
            name,
            status_patch(status, *run_status.OBSERVE_FIELDS),
        )
    except ApiException as exc:
        if exc.status != 404:  # deleted meanwhile: nothing to observe
            raise
