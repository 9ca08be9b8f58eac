"""Requests per minute per key, in fixed one-minute windows kept in PostgreSQL so
every API replica counts against the same budget."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import psycopg

from prazium_api.settings import ApiSettings

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    limit: int
    remaining: int
    reset_epoch: int  # when the current window ends (X-RateLimit-Reset)
    retry_after: int  # seconds until then

    @property
    def allowed(self) -> bool:
        return self.remaining >= 0

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(max(self.remaining, 0)).encode()),
            (b"x-ratelimit-reset", str(self.reset_epoch).encode()),
        ]


def limit_for(settings: ApiSettings, tier: str) -> int:
    return {"free": settings.rate_limit_free, "pro": settings.rate_limit_pro,
            "enterprise": settings.rate_limit_enterprise}[tier]


def count_request(conn: psycopg.Connection[Any], key_id: str, limit: int) -> Verdict:
    """Count one request in the key's current window (atomically, across replicas)."""
    row = conn.execute(
        "INSERT INTO rate_limit_windows (key_id, window_start, count)"
        " VALUES (%s, date_trunc('minute', now()), 1)"
        " ON CONFLICT (key_id, window_start)"
        " DO UPDATE SET count = rate_limit_windows.count + 1"
        " RETURNING count, window_start, now()",
        (key_id,),
    ).fetchone()
    assert row is not None
    count, window_start, now = int(row[0]), row[1], row[2]
    if count == 1:
        # First request of a window: drop this key's old windows (cheap, indexed).
        conn.execute("DELETE FROM rate_limit_windows WHERE key_id = %s AND window_start < %s",
                     (key_id, window_start))
    window_end: dt.datetime = window_start + dt.timedelta(seconds=WINDOW_SECONDS)
    retry_after = max(1, math.ceil((window_end - now).total_seconds()))
    return Verdict(limit=limit, remaining=limit - count,
                   reset_epoch=int(window_end.timestamp()), retry_after=retry_after)
