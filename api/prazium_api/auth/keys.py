"""API keys: created here, stored as SHA-256, looked up by hash (the gate does:
gate.py, ratelimit.py), listed and revoked by admins.

A key is shown once, at creation; logs and errors name its id (key_...), never
the key. Each key is bound to one tenant namespace and a tier.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import psycopg

KEY_PREFIX = "pzm_"
# How much of a key the database keeps in clear (pzm_ + 8 characters, 48 of the
# secret's 256 bits), so that listed keys can be told apart.
SHOWN_PREFIX_LENGTH = len(KEY_PREFIX) + 8
TIERS = ("free", "pro", "enterprise")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's id, its tenant namespace, tier, admin flag."""

    key_id: str
    tenant: str
    tier: str
    is_admin: bool


class KeyCache:
    """Principals of API keys this process verified recently, by key hash.

    An entry is trusted for ttl seconds counted from *before* the lookup that
    produced it, so a key revoked in PostgreSQL stops working on every replica
    within ttl seconds (PRAZIUM_KEY_CACHE_SECONDS). Unknown and revoked keys are
    never cached: a new key works at once. Sessions are not cached (a logout ends
    the session at once).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Principal]] = {}
        self.max_entries = max_entries

    def get(self, key_hash: str, ttl: float) -> Principal | None:
        if ttl <= 0:
            return None
        with self._lock:
            entry = self._entries.get(key_hash)
        if entry is not None and time.monotonic() - entry[0] < ttl:
            return entry[1]
        return None

    def put(self, key_hash: str, principal: Principal, checked_at: float, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._entries.pop(key_hash, None)
            while len(self._entries) >= self.max_entries:  # oldest first
                self._entries.pop(next(iter(self._entries)))
            self._entries[key_hash] = (checked_at, principal)

    def drop(self, key_hash: str) -> None:
        """Forget one key (revoked through this replica: refused here at once)."""
        with self._lock:
            self._entries.pop(key_hash, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    conn: psycopg.Connection[Any], tenant: str, tier: str, is_admin: bool = False
) -> tuple[str, str]:
    """Store a new key's hash; return (key id, the key itself)."""
    if tier not in TIERS:
        raise ValueError(f"tier must be one of {', '.join(TIERS)}")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    conn.execute(
        "INSERT INTO api_keys (id, key_hash, tenant, tier, is_admin, key_prefix)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (key_id, digest(key), tenant, tier, is_admin, key[:SHOWN_PREFIX_LENGTH]),
    )
    return key_id, key


@dataclass(frozen=True)
class KeyRecord:
    """A stored key as listed: never the key, never its hash."""

    id: str
    tenant: str
    tier: str
    is_admin: bool
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    prefix: str | None
    last_used_at: dt.datetime | None


# Last used: the start of the minute of the key's latest request. Every request a key
# (or one of its sessions) makes is counted in its rate-limit window of that minute,
# and a key's older windows are dropped, so its latest window is when it was last
# used, at no cost to the requests themselves (the primary key is the index).
_RECORD_COLUMNS = (
    "id, tenant, tier, is_admin, created_at, revoked_at, key_prefix,"
    " (SELECT max(w.window_start) FROM rate_limit_windows w WHERE w.key_id = api_keys.id)"
)


def list_keys(
    conn: psycopg.Connection[Any],
    tenant: str | None,
    limit: int,
    offset: int,
    admin_keys: bool = True,
) -> tuple[list[KeyRecord], int]:
    """One page of keys (newest first; of one tenant when given; without admin keys
    unless admin_keys) and the total."""
    conditions: list[str] = []
    params: list[object] = []
    if tenant:
        conditions.append("tenant = %s")
        params.append(tenant)
    if not admin_keys:
        conditions.append("NOT is_admin")
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    total_row = conn.execute(f"SELECT count(*) FROM api_keys {where}", params).fetchone()
    rows = conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM api_keys {where}"
        " ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
        [*params, limit, offset],
    ).fetchall()
    return [KeyRecord(*row) for row in rows], int(total_row[0]) if total_row else 0


def get_key(conn: psycopg.Connection[Any], key_id: str) -> KeyRecord | None:
    row = conn.execute(
        f"SELECT {_RECORD_COLUMNS} FROM api_keys WHERE id = %s", (key_id,)
    ).fetchone()
    return KeyRecord(*row) if row else None


def revoke_key(conn: psycopg.Connection[Any], key_id: str) -> tuple[KeyRecord, str] | None:
    """Mark a key revoked (idempotent: the first revocation time is kept) and end its
    sessions; (the key, its hash) or None when there is no such key. Replicas that
    verified the key recently keep accepting it for at most their key cache time."""
    row = conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
        f" RETURNING {_RECORD_COLUMNS}, key_hash",
        (key_id,),
    ).fetchone()
    if row is None:
        return None
    conn.execute("DELETE FROM sessions WHERE key_id = %s", (key_id,))
    return KeyRecord(*row[:-1]), str(row[-1])
