"""Run handlers: one kopf daemon per Run drives it (reconcilers/run/driver.py).

The daemon owns the Run's status and its Tasks; it never blocks the event loop
(blocking calls go to threads, workers are child processes or Jobs) and it is
restarted for every unfinished Run when the operator starts, which is how runs
survive an operator crash.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from prazium_kit.kube import GROUP, RUNS, VERSION
from prazium_kit.models import RunStatus, status_of
from prazium_operator import cleanup, metrics
from prazium_operator.reconcilers.run import observe_finished
from prazium_operator.reconcilers.run.driver import RunDriver
from prazium_operator.reconcilers.run.wakeup import Wakeups
from prazium_operator.settings import get_settings


@kopf.daemon(GROUP, VERSION, RUNS, cancellation_timeout=10.0, initial_delay=0, backoff=2.0)
async def drive_run(
    name: str,
    namespace: str | None,
    body: kopf.Body,
    memo: kopf.Memo,
    stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:
    assert namespace is not None  # Runs are namespaced
    wakeups: Wakeups = memo.wakeups
    driver = RunDriver(namespace, name, body, memo.executor, wakeups, get_settings(), stopped)
    wakeups.register((namespace, name))
    try:
        await driver.drive()
    except Exception:
        metrics.RECONCILE_ERRORS.labels("run").inc()
        raise
    finally:
        wakeups.unregister((namespace, name))


@kopf.on.delete(GROUP, VERSION, RUNS)
async def release_run_workers(
    name: str, namespace: str | None, spec: kopf.Spec, memo: kopf.Memo, **_: Any
) -> None:
    """A deleted Run leaves no worker and no file behind: Jobs live in the job namespace,
    beyond the reach of ownerReferences, so they are deleted by label here, then the
    run's worktrees and results go. The handler's finalizer holds the Run until this
    succeeded, even if the operator was down at deletion (or the namespace is going)."""
    assert namespace is not None
    await memo.executor.release_run(namespace, name)
    project = (spec.get("projectRef") or {}).get("name")
    await asyncio.to_thread(
        cleanup.remove_run_files, get_settings().data_dir, namespace, project, name
    )


@kopf.on.event(GROUP, VERSION, RUNS)
async def observe_finished_run(
    name: str,
    namespace: str | None,
    body: kopf.Body,
    type: str | None,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    """A finished Run's daemon is gone: acknowledge a later spec change (kstatus).

    Every Run event also updates the operator's view for its metrics (phase, task
    counts; prazium_operator/metrics.py) and wakes the Run's daemon if it sleeps
    (spec.cancel, spec.parallelism; reconcilers/run/wakeup.py): here, so no second
    handler logs each event."""
    if namespace is not None and getattr(memo, "wakeups", None) is not None:
        memo.wakeups.wake((namespace, name))
    if body.metadata.uid:
        metrics.RUNS.observe(body.metadata.uid, body.get("status"), deleted=type == "DELETED")
    status = status_of(body, RunStatus)
    generation = body.meta.get("generation")
    if (
        type == "DELETED"
        or namespace is None
        or generation is None
        or not observe_finished.needs_observing(status, int(generation))
    ):
        return
    await observe_finished.observe(namespace, name, status, int(generation))
