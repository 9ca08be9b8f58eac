"""Retrying a dependency's outage (PostgreSQL, the kube-apiserver) within a bounded window.

Exponential backoff with equal jitter (each wait drawn between half its ceiling and the
ceiling): every caller that met the same outage retries at a different moment, so a
restarted database or apiserver is not hit by all of them at once. The window is
bounded: past it the last error is raised, and the caller's own recovery (a kopf
daemon's restart, the operator's replay of a worker's events) takes over.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

log = logging.getLogger("prazium.retrying")
T = TypeVar("T")

FIRST_DELAY_SECONDS = 0.5
MAX_DELAY_SECONDS = 8.0
# Statuses an apiserver answers while it starts, is overloaded or lost etcd.
TRANSIENT_API_STATUSES = frozenset({0, 429, 500, 502, 503, 504})


def delays(
    window: float,
    first: float = FIRST_DELAY_SECONDS,
    cap: float = MAX_DELAY_SECONDS,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """The waits between attempts: equal jitter, uniform in [c/2, c] for the ceiling
    c = first * 2^n (at most cap), until their sum would pass window."""
    pick = rng or random
    spent, ceiling = 0.0, first
    while True:
        delay = pick.uniform(ceiling / 2, ceiling)  # never 0: a tight loop helps nobody
        if spent + delay > window:
            return
        spent += delay
        yield delay
        ceiling = min(ceiling * 2, cap)


def database_outage(exc: BaseException) -> bool:
    """A connection-level failure (refused, reset, server shut down), not a bad query."""
    import psycopg  # here, not at import: a worker imports this module and never connects

    return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)


def apiserver_outage(exc: BaseException) -> bool:
    """The apiserver did not answer, or answered that it cannot serve now."""
    # Imported here: a worker imports this module (through recorder) and never talks
    # to the apiserver; the kubernetes client is a tenth of a CPU-second to import.
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        return exc.status in TRANSIENT_API_STATUSES
    import urllib3.exceptions

    return isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError)


def call(
    fn: Callable[[], T], *, window: float, transient: Callable[[BaseException], bool], what: str
) -> T:
    """fn(), retried while it fails transiently, for at most window seconds (blocking:
    call it in a thread from async code)."""
    waits = delays(window)
    started = time.monotonic()
    while True:
        try:
            return fn()
        except Exception as exc:
            if not transient(exc):
                raise
            delay = next(waits, None)
            if delay is None:
                log.error(
                    "%s: still failing after %.0f s, giving up: %s",
                    what,
                    time.monotonic() - started,
                    exc,
                )
                raise
            log.warning(
                "%s failed (%s: %s); retrying in %.1f s",
                what,
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
                delay,
            )
            time.sleep(delay)
