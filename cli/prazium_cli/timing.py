"""Times as people read them in a table: ages (5m) and durations (1m04s), from the
API's ISO-8601 timestamps."""

from __future__ import annotations

import datetime as dt


def parse(value: object) -> dt.datetime | None:
    """An API timestamp (2024-01-15T11:30:00Z, fractions allowed); None if absent or odd."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def seconds_between(start: object, end: object) -> float | None:
    began, ended = parse(start), parse(end)
    if began is None or ended is None:
        return None
    return max((ended - began).total_seconds(), 0.0)


def duration(seconds: float | None) -> str:
    """0.42s, 9.1s, 42s, 3m05s, 2h07m, 3d04h: two units at most, as `kubectl` and
    `tkn` show them; "-" when unknown."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f}s" if seconds < 1 else f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def age(value: object, now: dt.datetime | None = None) -> str:
    """How long ago: 12s, 5m, 3h, 2d (whole units, as `kubectl get` shows AGE)."""
    when = parse(value)
    if when is None:
        return "-"
    seconds = int(((now or dt.datetime.now(dt.UTC)) - when).total_seconds())
    return _whole_units(max(seconds, 0))


def until(value: object, now: dt.datetime | None = None) -> str:
    """How long from now to a time to come: 23h, 5m (whole units, as `age`);
    "past" once it has come, "-" if absent."""
    when = parse(value)
    if when is None:
        return "-"
    seconds = int((when - (now or dt.datetime.now(dt.UTC))).total_seconds())
    return _whole_units(seconds) if seconds > 0 else "past"


def _whole_units(seconds: int) -> str:
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def took(start: object, end: object, now: dt.datetime | None = None) -> str:
    """A duration from start to end, or to now (with "+": still going) when not ended."""
    if parse(start) is None:
        return "-"
    if parse(end) is None:
        current = (now or dt.datetime.now(dt.UTC)).isoformat()
        return duration(seconds_between(start, current)) + "+"
    return duration(seconds_between(start, end))
