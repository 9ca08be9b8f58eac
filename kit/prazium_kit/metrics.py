"""Prometheus metrics of the kit's own work, shared by every process that does it (the
operator and the API each serve their process's registry at /metrics).

Names start with prazium_; durations are in seconds (Prometheus conventions).
"""

from __future__ import annotations

from prometheus_client import Histogram

# Fast statements (milliseconds) up to an outage ridden out by the caller's retries.
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

JOURNAL_APPEND_SECONDS = Histogram(
    "prazium_journal_append_duration_seconds",
    "Time to append one event to the PostgreSQL journal (lock, insert, commit)",
    buckets=FAST_BUCKETS,
)
