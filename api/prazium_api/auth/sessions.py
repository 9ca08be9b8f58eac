"""Web UI sessions: a session token exchanged for an API key (POST /v1/auth/login),
stored as SHA-256 like keys, valid until it expires, its key is revoked or it is
logged out. The gate checks them (ratelimit.lookup_and_count_sql)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import psycopg

from prazium_api.auth.keys import digest


def create_session(
    conn: psycopg.Connection[Any], key_id: str, ttl_seconds: int
) -> tuple[str, dt.datetime]:
    """A new session of the key: (its token, shown once; when it expires)."""
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
