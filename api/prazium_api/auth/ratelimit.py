"""Requests per minute per key, in fixed one-minute windows kept in PostgreSQL so
every API replica counts against the same budget.

A bucket is a row of rate_limit_windows: an API key's id (key_...) or the failed
checks of one presented credential from one client address
(fail:<address>:<credential digest prefix>). Counting is one statement, an
atomic upsert (a key this replica has verified recently is counted in process
and added in batches: ratecount.py); a key not in this replica's key cache is looked up, checked
against its failure budget and counted in one statement too. Old windows of a
bucket are dropped by the first request of its next window (failure buckets,
one per guessed credential, by the first failure of any new bucket).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import psycopg

from prazium_api.settings import ApiSettings

WINDOW_SECONDS = 60
WINDOW = "date_trunc('minute', now())"

COUNT_SQL = (
    "INSERT INTO rate_limit_windows (key_id, window_start, count)"
    f" VALUES (%(bucket)s, {WINDOW}, 1)"
    " ON CONFLICT (key_id, window_start)"
    " DO UPDATE SET count = rate_limit_windows.count + 1"
    " RETURNING count, window_start, now()"
)
DROP_OLD_SQL = "DELETE FROM rate_limit_windows WHERE key_id = %s AND window_start < %s"
FAILURE_PREFIX = "fail:"
DROP_OLD_FAILURES_SQL = (
    "DELETE FROM rate_limit_windows WHERE key_id LIKE 'fail:%%' AND window_start < %s"
)

_WHO = {
    "key": "SELECT id, tenant, tier, is_admin FROM api_keys"
    " WHERE key_hash = %(secret)s AND revoked_at IS NULL",
    "session": "SELECT k.id, k.tenant, k.tier, k.is_admin FROM sessions s"
    " JOIN api_keys k ON k.id = s.key_id WHERE s.token_hash = %(secret)s"
    " AND s.expires_at > now() AND k.revoked_at IS NULL",
}


def who_sql(kind: str) -> str:
    """Who these credentials ("key" or "session", by %(secret)s, their hash) belong
    to, if anyone, counting nothing. Row: id, tenant, tier, is_admin."""
    return _WHO[kind]


def lookup_and_count_sql(kind: str) -> str:
    """One round trip: are these credentials from this address over their failure
    budget (then nothing is looked up), who they belong to, and count the request.
    Row: blocked, id, tenant, tier, is_admin, count, window_start, now()."""
    return (
        "WITH blocked AS (SELECT coalesce(max(count), 0) >= %(failure_limit)s AS b"
        f" FROM rate_limit_windows WHERE key_id = %(failures)s AND window_start = {WINDOW}),"
        f" who AS ({_WHO[kind]} AND NOT (SELECT b FROM blocked)),"
        " counted AS (INSERT INTO rate_limit_windows (key_id, window_start, count)"
        f" SELECT id, {WINDOW}, 1 FROM who ON CONFLICT (key_id, window_start)"
        " DO UPDATE SET count = rate_limit_windows.count + 1 RETURNING count, window_start)"
        " SELECT (SELECT b FROM blocked), who.id, who.tenant, who.tier, who.is_admin,"
        " counted.count, counted.window_start, now()"
        " FROM (SELECT 1) AS one LEFT JOIN who ON true LEFT JOIN counted ON true"
    )


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
    return {
        "free": settings.rate_limit_free,
        "pro": settings.rate_limit_pro,
        "enterprise": settings.rate_limit_enterprise,
    }[tier]


def failure_bucket(address: str, credential_digest: str) -> str:
    """Failed checks of one credential from one address: a valid key never shares a
    bucket with someone else's guesses, even behind the same proxy."""
    return f"{FAILURE_PREFIX}{address}:{credential_digest[:32]}"


def verdict(limit: int, count: int, window_start: dt.datetime, now: dt.datetime) -> Verdict:
    window_end = window_start + dt.timedelta(seconds=WINDOW_SECONDS)
    retry_after = max(1, math.ceil((window_end - now).total_seconds()))
    return Verdict(
        limit=limit,
        remaining=limit - count,
        reset_epoch=int(window_end.timestamp()),
        retry_after=retry_after,
    )


def exhausted(limit: int, now: dt.datetime) -> Verdict:
    """The verdict for a bucket already over its limit in now's window."""
    return verdict(limit, limit + 1, now.replace(second=0, microsecond=0), now)


async def count(conn: psycopg.AsyncConnection[Any], bucket: str, limit: int) -> Verdict:
    """Count one request in the bucket's current window (atomically, across replicas)."""
    n, window_start, now = await count_row(conn, bucket)
    return verdict(limit, n, window_start, now)


async def count_row(
    conn: psycopg.AsyncConnection[Any], bucket: str
) -> tuple[int, dt.datetime, dt.datetime]:
    """Count one request in the bucket's current window: (count with it, the
    window's start, now), in PostgreSQL's clock."""
    cur = await conn.execute(COUNT_SQL, {"bucket": bucket})
    row = await cur.fetchone()
    assert row is not None
    n, window_start, now = int(row[0]), row[1], row[2]
    if n == 1:
        if bucket.startswith(FAILURE_PREFIX):
            await conn.execute(DROP_OLD_FAILURES_SQL, (window_start,))
        else:
            await drop_old(conn, bucket, window_start)
    return n, window_start, now


async def drop_old(
    conn: psycopg.AsyncConnection[Any], bucket: str, window_start: dt.datetime
) -> None:
    await conn.execute(DROP_OLD_SQL, (bucket, window_start))
