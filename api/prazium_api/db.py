"""The API process's PostgreSQL pools, created and closed by the app's lifespan
and handed to routes as a dependency (deps.Db).

The pools open without waiting for a connection: health must answer even when
the database is down, and a route that needs it then answers 500 "database
unavailable".
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolTimeout

from prazium_api.errors import ApiError
from prazium_api.settings import ApiSettings

log = logging.getLogger(__name__)
_CONNECT = {"autocommit": True, "connect_timeout": 5}


class Database:
    """pool serves routes and threads (they run in the thread pool); gate_pool lives
    in the event loop for the auth/rate-limit check (no thread hop per request)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.pool: ConnectionPool[Any] = ConnectionPool(
            settings.database_url, min_size=1, max_size=settings.db_pool_size,
            kwargs=_CONNECT, open=False, name="prazium-api")
        self.gate_pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            settings.database_url, min_size=1, max_size=settings.db_gate_pool_size,
            kwargs=_CONNECT, open=False, name="prazium-api-gate")

    async def open(self) -> None:
        self.pool.open(wait=False)
        await self.gate_pool.open(wait=False)

    async def close(self) -> None:
        await self.gate_pool.close()
        await anyio.to_thread.run_sync(self.pool.close)

    @contextmanager
    def connection(self, timeout: float = 10.0) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection; an unreachable database is a 500 envelope."""
        try:
            cm = self.pool.connection(timeout=timeout)
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

    @asynccontextmanager
    async def aconnection(self, acquire_seconds: float = 10.0
                          ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled autocommit connection of the event loop (waiting at most
        acquire_seconds for one); errors as in connection()."""
        try:
            cm = self.gate_pool.connection(timeout=acquire_seconds)
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
