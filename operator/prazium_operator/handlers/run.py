"""Run reconciler: one kopf daemon per Run drives it (see runner.py).

The daemon owns the Run's status and its Tasks; it never blocks the event loop
(blocking calls go to threads, workers are child processes or Jobs) and it is
restarted for every unfinished Run when the operator starts, which is how runs
survive an operator crash.
"""

from __future__ import annotations

from typing import Any

import kopf

from prazium_operator.kube import GROUP, RUNS, VERSION
from prazium_operator.runner import RunDriver
from prazium_operator.settings import get_settings


@kopf.daemon(GROUP, VERSION, RUNS, cancellation_timeout=10.0, initial_delay=0,
             backoff=2.0)
async def drive_run(name: str, namespace: str | None, body: kopf.Body, memo: kopf.Memo,
                    stopped: kopf.DaemonStopped, **_: Any) -> None:
    assert namespace is not None  # Runs are namespaced
    driver = RunDriver(namespace, name, body, memo.executor, get_settings(), stopped)
    await driver.drive()
