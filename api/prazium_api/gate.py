"""Who is calling and may they: credentials -> principal, counted against the
key's per-minute budget, in the event loop (no thread hop) and usually in one
PostgreSQL statement.

  * a bearer key this replica verified less than key_cache_seconds ago: one
    upsert (the key's window);
  * any other credentials: one statement that checks the client IP's failure
    budget, looks the credentials up and counts the request;
  * credentials that match nothing: the IP's failure budget is counted too, and
    once it is spent the answer is 429 instead of 401 - before any lookup.

One Gate per API process, made by the app's lifespan (it owns the key cache).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg

from prazium_api import keys, ratelimit
from prazium_api.db import Database
from prazium_api.errors import ApiError
from prazium_api.settings import ApiSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """principal is None: not authenticated; then verdict, if any, is the client
    IP's failure budget (not allowed: answer 429, else 401)."""

    principal: keys.Principal | None
    verdict: ratelimit.Verdict | None

    @property
    def limited(self) -> bool:
        return self.verdict is not None and not self.verdict.allowed


class Gate:
    def __init__(self, database: Database, settings: ApiSettings) -> None:
        self.database = database
        self.settings = settings
        self.key_cache = keys.KeyCache()

    async def check(self, bearer: str | None, session: str | None, client_ip: str,
                    use_cache: bool = True) -> Outcome:
        """Authenticate and count one request; database trouble is a 500 envelope."""
        try:
            return await self._check(bearer, session, client_ip, use_cache)
        except psycopg.Error as exc:
            log.error("gate: database error %s", exc.__class__.__name__)
            raise ApiError("INTERNAL_ERROR", "database unavailable") from exc

    async def _check(self, bearer: str | None, session: str | None, client_ip: str,
                     use_cache: bool) -> Outcome:
        settings = self.settings
        ttl = settings.key_cache_seconds
        ip_limit = settings.auth_failures_per_minute
        ip = ratelimit.ip_bucket(client_ip)
        if bearer:
            kind, secret = "key", keys.digest(bearer)
        elif session:
            kind, secret = "session", keys.digest(session)
        else:
            return Outcome(None, None)
        async with self.database.aconnection() as conn:
            if kind == "key":
                if not bearer or not bearer.startswith(keys.KEY_PREFIX):
                    return Outcome(None, await _failure(conn, ip, ip_limit))
                cached = self.key_cache.get(secret, ttl) if use_cache else None
                if cached is not None:
                    return Outcome(cached, await ratelimit.count(
                        conn, cached.key_id, ratelimit.limit_for(settings, cached.tier)))
            checked_at = time.monotonic()
            cur = await conn.execute(ratelimit.lookup_and_count_sql(kind),
                                     {"secret": secret, "ip": ip, "ip_limit": ip_limit})
            row = await cur.fetchone()
            assert row is not None
            blocked, key_id, tenant, tier, is_admin, count, window_start, now = row
            if blocked:
                return Outcome(None, ratelimit.exhausted(ip_limit, now))
            if key_id is None:
                return Outcome(None, await _failure(conn, ip, ip_limit))
            principal = keys.Principal(key_id, tenant, tier, is_admin)
            if kind == "key":
                self.key_cache.put(secret, principal, checked_at, ttl)
            if int(count) == 1:
                await ratelimit.drop_old(conn, key_id, window_start)
            return Outcome(principal, ratelimit.verdict(
                ratelimit.limit_for(settings, tier), int(count), window_start, now))

    async def count_key(self, principal: keys.Principal) -> ratelimit.Verdict:
        """Count one more request (e.g. a WebSocket message) against the key's budget."""
        try:
            async with self.database.aconnection() as conn:
                return await ratelimit.count(
                    conn, principal.key_id, ratelimit.limit_for(self.settings, principal.tier))
        except psycopg.Error as exc:
            log.error("gate: database error %s", exc.__class__.__name__)
            raise ApiError("INTERNAL_ERROR", "database unavailable") from exc

    async def login_attempt(self, api_key: str, client_ip: str) -> Outcome:
        """POST /auth/login: like any credential check, the IP's failure budget is
        checked before the key is looked up (a blocked client learns nothing about its
        guesses), and a failed attempt spends it. Not served from the key cache: a
        session is only handed out for a key PostgreSQL says is not revoked."""
        return await self.check(api_key, None, client_ip, use_cache=False)


async def _failure(conn: psycopg.AsyncConnection[object], ip: str,
                   ip_limit: int) -> ratelimit.Verdict:
    """Count a failed credential check against the client IP. The check that
    spends the last unit still answers 401; the ones after it are blocked."""
    spent = await ratelimit.count(conn, ip, ip_limit)
    if spent.remaining < 0:
        log.info("credential checks from %s over %d per minute", ip, ip_limit)
    return spent
