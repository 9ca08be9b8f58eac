"""Timestamps as Kubernetes and the REST contract write them: RFC 3339 in UTC with "Z"."""

from __future__ import annotations

import datetime as dt


def utc_now() -> str:
    """Now, to the second, e.g. 2026-01-31T12:00:00Z (the form of CR timestamps)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_z(value: dt.datetime) -> str:
    """A database timestamp for the API, keeping its precision: ...T12:00:00.123456Z."""
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def parse(value: str) -> dt.datetime:
    """A timestamp as utc_now (or the apiserver) writes it."""
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def duration(started: str | None, completed: str | None) -> str | None:
    """completed - started the way kubectl prints ages (41s, 2m13s, 1h4m), or None when
    either end is unknown. Shown in the DURATION printer column of Runs and Tasks."""
    if not started or not completed:
        return None
    seconds = max(int((parse(completed) - parse(started)).total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
