"""Timestamps as Kubernetes and the REST contract write them: RFC 3339 in UTC with "Z"."""

from __future__ import annotations

import datetime as dt


def utc_now() -> str:
    """Now, to the second, e.g. 2026-01-31T12:00:00Z (the form of CR timestamps)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_z(value: dt.datetime) -> str:
    """A database timestamp for the API, keeping its precision: ...T12:00:00.123456Z."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
