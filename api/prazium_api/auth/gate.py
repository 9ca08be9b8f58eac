"""Who is calling and may they: credentials -> principal, counted against the
key's per-minute budget, in the event loop (no thread hop) and usually in one
PostgreSQL statement.

  * a bearer key this replica verified less than key_cache_seconds ago: counted
    in this process and added to the key's shared window in batches (ratecount.py:
    no round trip, except for the key's first request in each window);
  * any other credentials: one statement that checks the failure budget of these
    credentials from this client address, looks them up and counts the request;
  * a key whose tenant (namespace) is gone or terminating: 401 TENANT_REMOVED
    (tenants.py);
  * credentials that match nothing: that failure budget is counted, and once it
    is spent the answer for those credentials from that address is 429 instead
    of 401 - before any lookup. Other credentials are not affected, so nobody's
    failures lock a valid key out (behind a proxy, all clients share an address).

One Gate per API process, made by the app's lifespan (it owns the key cache).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import psycopg

from prazium_api.auth import keys, ratecount, ratelimit, tenants
from prazium_api.contract.errors import ApiError
from prazium_api.db import Database
from prazium_api.settings import ApiSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """principal is None: not authenticated; then verdict, if any, is the failure
    budget of the credentials from the client address (not allowed: 429, else 401)."""

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
        self.tenants = tenants.TenantCheck(settings.key_cache_seconds)
        self.counts = ratecount.BatchedCounts(database, settings.rate_limit_flush_seconds)

    def start(self) -> None:
        """In the event loop (the app's lifespan): start flushing counted requests."""
        self.counts.start()

    async def stop(self) -> None:
        await self.counts.stop()

    async def check(
        self, bearer: str | None, session: str | None, client_ip: str, use_cache: bool = True
    ) -> Outcome:
        """Authenticate and count one request; an unreachable database is the 503
        envelope (db.unavailable), any other database error a 500."""
        try:
            outcome = await self._check(bearer, session, client_ip, use_cache)
        except psycopg.OperationalError as exc:  # down, restarting, connection lost
            raise self.database.unavailable(exc) from exc
        except psycopg.Error as exc:
            log.error("gate: database error %s", exc.__class__.__name__)
            raise ApiError("INTERNAL_ERROR", "database error") from exc
        if outcome.principal is not None:
            await self.tenants.require_active(outcome.principal.tenant)
        return outcome

    async def _check(
        self, bearer: str | None, session: str | None, client_ip: str, use_cache: bool
    ) -> Outcome:
        settings = self.settings
        ttl = settings.key_cache_seconds
        failure_limit = settings.auth_failures_per_minute
        if bearer:
            kind, secret = "key", keys.digest(bearer)
        elif session:
            kind, secret = "session", keys.digest(session)
        else:
            return Outcome(None, None)
        cached = self.key_cache.get(secret, ttl) if kind == "key" and use_cache else None
        if cached is not None:  # (only well-formed keys are ever cached)
            counted = self.counts.count(cached.key_id, ratelimit.limit_for(settings, cached.tier))
            if counted is not None:  # the common case: no database round trip
                return Outcome(cached, counted)
        failures = ratelimit.failure_bucket(client_ip, secret)
        async with self.database.aconnection() as conn:
            if kind == "key":
                if not bearer or not bearer.startswith(keys.KEY_PREFIX):
                    return Outcome(None, await _failure(conn, failures, failure_limit))
                if cached is not None:
                    return Outcome(cached, await self._count_now(conn, cached))
            checked_at = time.monotonic()
            cur = await conn.execute(
                ratelimit.lookup_and_count_sql(kind),
                {"secret": secret, "failures": failures, "failure_limit": failure_limit},
            )
            row = await cur.fetchone()
            assert row is not None
            blocked, key_id, tenant, tier, is_admin, count, window_start, now = row
            if blocked:
                return Outcome(None, ratelimit.exhausted(failure_limit, now))
            if key_id is None:
                return Outcome(None, await _failure(conn, failures, failure_limit))
            principal = keys.Principal(key_id, tenant, tier, is_admin)
            if kind == "key":
                self.key_cache.put(secret, principal, checked_at, ttl)
            if int(count) == 1:
                await ratelimit.drop_old(conn, key_id, window_start)
            return Outcome(
                principal,
                self.counts.synced(
                    key_id, ratelimit.limit_for(settings, tier), int(count), window_start, now
                ),
            )

    async def _count_now(
        self, conn: psycopg.AsyncConnection[object], principal: keys.Principal
    ) -> ratelimit.Verdict:
        """Count one request of the key in PostgreSQL at once (its first in a window
        on this replica); what it returns is this replica's view of the window."""
        limit = ratelimit.limit_for(self.settings, principal.tier)
        count, window_start, now = await ratelimit.count_row(conn, principal.key_id)
        return self.counts.synced(principal.key_id, limit, count, window_start, now)

    async def verify(
        self, bearer: str | None, session: str | None, use_cache: bool = True
    ) -> keys.Principal | None:
        """Whether credentials that authenticated before still do (an open WebSocket
        asks about its own): their principal, or None once the key is revoked or the
        session has ended. Nothing is counted. A key verified less than
        key_cache_seconds ago is trusted unless use_cache is False. Raises as check()
        does while the database is down (not a verdict) or the tenant was removed."""
        if bearer:
            kind, secret = "key", keys.digest(bearer)
        elif session:
            kind, secret = "session", keys.digest(session)
        else:
            return None
        ttl = self.settings.key_cache_seconds
        principal = self.key_cache.get(secret, ttl) if kind == "key" and use_cache else None
        if principal is None:
            checked_at = time.monotonic()
            try:
                async with self.database.aconnection() as conn:
                    cur = await conn.execute(ratelimit.who_sql(kind), {"secret": secret})
                    row = await cur.fetchone()
            except psycopg.OperationalError as exc:
                raise self.database.unavailable(exc) from exc
            except psycopg.Error as exc:
                log.error("gate: database error %s", exc.__class__.__name__)
                raise ApiError("INTERNAL_ERROR", "database error") from exc
            if row is None:
                self.key_cache.drop(secret)
                return None
            principal = keys.Principal(*row)
            if kind == "key":
                self.key_cache.put(secret, principal, checked_at, ttl)
        await self.tenants.require_active(principal.tenant)
        return principal

    async def count_key(self, principal: keys.Principal) -> ratelimit.Verdict:
        """Count one more request (e.g. a WebSocket message) against the key's budget."""
        counted = self.counts.count(
            principal.key_id, ratelimit.limit_for(self.settings, principal.tier)
        )
        if counted is not None:
            return counted
        try:
            async with self.database.aconnection() as conn:
                return await self._count_now(conn, principal)
        except psycopg.OperationalError as exc:
            raise self.database.unavailable(exc) from exc
        except psycopg.Error as exc:
            log.error("gate: database error %s", exc.__class__.__name__)
            raise ApiError("INTERNAL_ERROR", "database error") from exc

    async def login_attempt(self, api_key: str, client_ip: str) -> Outcome:
        """POST /auth/login: like any credential check, the key's failure budget from
        this address is checked before the key is looked up, and a failed attempt
        spends it. Not served from the key cache: a
        session is only handed out for a key PostgreSQL says is not revoked."""
        return await self.check(api_key, None, client_ip, use_cache=False)


async def _failure(
    conn: psycopg.AsyncConnection[object], bucket: str, limit: int
) -> ratelimit.Verdict:
    """Count a failed check of one credential from one address. The check that
    spends the last unit still answers 401; the ones after it are blocked."""
    spent = await ratelimit.count(conn, bucket, limit)
    if spent.remaining < 0:
        address = bucket.removeprefix(ratelimit.FAILURE_PREFIX).rpartition(":")[0]
        log.info("failed checks of one credential from %s over %d per minute", address, limit)
    return spent
