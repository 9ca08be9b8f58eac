"""The API's PostgreSQL connection pool (opened lazily: health must answer even
when the database is down)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from prazium_api.errors import ApiError
from prazium_api.settings import get_api_settings

log = logging.getLogger(__name__)
_pool: ConnectionPool[Any] | None = None
_lock = threading.Lock()


def pool() -> ConnectionPool[Any]:
    global _pool
    with _lock:
        if _pool is None:
            settings = get_api_settings()
            _pool = ConnectionPool(
                settings.database_url, min_size=1, max_size=settings.db_pool_size,
                kwargs={"autocommit": True, "connect_timeout": 5}, open=True,
                name="prazium-api",
            )
        return _pool


@contextmanager
def connection(timeout: float = 10.0) -> Iterator[psycopg.Connection[Any]]:
    """A pooled autocommit connection; an unreachable database is a 500 envelope."""
    try:
        cm = pool().connection(timeout=timeout)
        conn = cm.__enter__()
    except (PoolTimeout, psycopg.OperationalError) as exc:  # never leak the DSN
        log.error("database unavailable: %s", exc.__class__.__name__)
        raise ApiError("INTERNAL_ERROR", "database unavailable") from exc
    try:
        yield conn
    except BaseException as exc:
        cm.__exit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        cm.__exit__(None, None, None)


def close() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.close()
            _pool = None
