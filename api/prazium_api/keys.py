"""API keys and web sessions: created here, stored as SHA-256, looked up by hash.

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
        "INSERT INTO api_keys (id, key_hash, tenant, tier, is_admin) VALUES (%s, %s, %s, %s, %s)",
        (key_id, digest(key), tenant, tier, is_admin),
    )
    return key_id, key


def principal_for_key(conn: psycopg.Connection[Any], key: str) -> Principal | None:
    if not key.startswith(KEY_PREFIX):
        return None
    row = conn.execute(
        "SELECT id, tenant, tier, is_admin FROM api_keys"
        " WHERE key_hash = %s AND revoked_at IS NULL",
        (digest(key),),
    ).fetchone()
    return Principal(*row) if row else None


def principal_for_session(conn: psycopg.Connection[Any], token: str) -> Principal | None:
    row = conn.execute(
        "SELECT k.id, k.tenant, k.tier, k.is_admin FROM sessions s"
        " JOIN api_keys k ON k.id = s.key_id"
        " WHERE s.token_hash = %s AND s.expires_at > now() AND k.revoked_at IS NULL",
        (digest(token),),
    ).fetchone()
    return Principal(*row) if row else None


def create_session(
    conn: psycopg.Connection[Any], key_id: str, ttl_seconds: int
) -> tuple[str, dt.datetime]:
    token = secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO sessions (token_hash, key_id, expires_at)"
        " VALUES (%s, %s, now() + make_interval(secs => %s)) RETURNING expires_at",
        (digest(token), key_id, ttl_seconds),
    ).fetchone()
    assert row is not None
    return token, row[0]


def delete_session(conn: psycopg.Connection[Any], token: str) -> None:
    conn.execute("DELETE FROM sessions WHERE token_hash = %s", (digest(token),))
