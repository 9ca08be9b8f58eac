"""Prometheus metrics of the kit's own work, shared by every process that does it (the
operator and the API each serve their process's registry at /metrics).

Names start with prazium_; durations are in seconds (Prometheus conventions). Only a
process that serves metrics records them: it calls register() (the API's and the
operator's metrics modules do at import). A worker never does, so it records
nothing and does not pay prometheus_client's import at every start.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

# Fast statements (milliseconds) up to an outage ridden out by the caller's retries.
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

F = TypeVar("F", bound=Callable[..., Any])
# name -> prometheus_client metric, once register() made them
_REGISTERED: dict[str, Any] = {}


def register() -> None:
    """Create the kit's metrics in this process's registry (idempotent)."""
    if "journal_append" not in _REGISTERED:
        from prometheus_client import Histogram

        _REGISTERED["journal_append"] = Histogram(
            "prazium_journal_append_duration_seconds",
            "Time to append one event to the PostgreSQL journal (lock, insert, commit)",
            buckets=FAST_BUCKETS,
        )


def timed_journal_append(func: F) -> F:
    """Decorator: observe each call's duration, when this process records metrics."""

    @functools.wraps(func)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            histogram = _REGISTERED.get("journal_append")
            if histogram is not None:
                histogram.observe(time.perf_counter() - started)

    return timed  # type: ignore[return-value]
