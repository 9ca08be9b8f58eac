"""Yes/no probes the integration tests poll: is a WebSocket closed, does PostgreSQL answer."""

from __future__ import annotations

import psycopg


def ws_closed(ws: object) -> bool:
    """True once the server has closed the (websockets sync client) connection."""
    try:
        ws.recv(timeout=0.2)  # type: ignore[attr-defined]
    except TimeoutError:
        return False
    except Exception:
        return True
    return False


def database_answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True
