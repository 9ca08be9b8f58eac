"""The API's PostgreSQL connection pool (opened lazily: health must answer even
when the database is down)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from prazium_api.errors import ApiError
from prazium_api.settings import get_api_settings

log = logging.getLogger(__name__)
_pool: ConnectionPool[Any] | None = None
_lock = threading.Lock()
# The gate's pool lives in the event loop (no thread hop per request).
_apool: AsyncConnectionPool[Any] | None = None
_alock: asyncio.Lock | None = None


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


async def apool() -> AsyncConnectionPool[Any]:
    global _apool, _alock
    if _apool is not None:
        return _apool
    if _alock is None:
        _alock = asyncio.Lock()
    async with _alock:
        if _apool is None:
            settings = get_api_settings()
            pool_ = AsyncConnectionPool(
                settings.database_url, min_size=1, max_size=settings.db_gate_pool_size,
                kwargs={"autocommit": True, "connect_timeout": 5}, open=False,
                name="prazium-api-gate",
            )
            await pool_.open(wait=False)
            _apool = pool_
    return _apool


@asynccontextmanager
async def aconnection(timeout: float = 10.0) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A pooled autocommit connection of the event loop; errors as in connection()."""
    try:
        cm = (await apool()).connection(timeout=timeout)
        conn = await cm.__aenter__()
    except (PoolTimeout, psycopg.OperationalError) as exc:
        log.error("database unavailable: %s", exc.__class__.__name__)
        raise ApiError("INTERNAL_ERROR", "database unavailable") from exc
    try:
        yield conn
    except BaseException as exc:
        await cm.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    else:
        await cm.__aexit__(None, None, None)


async def aclose() -> None:
    global _apool
    if _apool is not None:
        await _apool.close()
        _apool = None


def close() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.close()
            _pool = None
