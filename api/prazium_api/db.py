"""The API process's PostgreSQL pools, created and closed by the app's lifespan
and handed to routes as a dependency (deps.Db).

The pools open without waiting for a connection: health must answer even when
the database is down. While it is down, a request that needs it answers 503
INTERNAL_ERROR (reason DATABASE_UNAVAILABLE) with Retry-After - never 500: the
contract has no code of its own for "try again later", so the code stays
INTERNAL_ERROR and the HTTP status and reason say it is temporary. Every
connection is checked as it leaves a pool (check_connection), so the
connections a restarted PostgreSQL left dead are dropped, not handed to a route.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from prazium_api.contract.errors import ApiError
from prazium_api.settings import ApiSettings

log = logging.getLogger(__name__)
_CONNECT = {"autocommit": True, "connect_timeout": 5}
UNAVAILABLE_STATUS = 503


def unavailable(retry_after_seconds: int) -> ApiError:
    """The answer while PostgreSQL cannot be reached (also for a connection that
    died mid-request: psycopg.OperationalError, which PoolTimeout is too)."""
    return ApiError(
        "INTERNAL_ERROR",
        "the database is unavailable; retry shortly",
        {"reason": "DATABASE_UNAVAILABLE", "retryAfter": retry_after_seconds},
        status=UNAVAILABLE_STATUS,
        headers={"retry-after": str(retry_after_seconds)},
    )


class Database:
    """pool serves routes and threads (they run in the thread pool); gate_pool lives
    in the event loop for the auth/rate-limit check (no thread hop per request)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.acquire_seconds = settings.db_acquire_timeout_seconds
        self.retry_after_seconds = settings.db_retry_after_seconds
        self.pool: ConnectionPool[Any] = ConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=settings.db_pool_size,
            kwargs=_CONNECT,
            open=False,
            name="prazium-api",
            check=ConnectionPool.check_connection,
        )
        self.gate_pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            settings.database_url,
            min_size=1,
            max_size=settings.db_gate_pool_size,
            kwargs=_CONNECT,
            open=False,
            name="prazium-api-gate",
            check=AsyncConnectionPool.check_connection,
        )

    async def open(self) -> None:
        self.pool.open(wait=False)
        await self.gate_pool.open(wait=False)

    async def close(self) -> None:
        await self.gate_pool.close()
        await anyio.to_thread.run_sync(self.pool.close)

    def unavailable(self, exc: BaseException) -> ApiError:
        log.error("database unavailable: %s", exc.__class__.__name__)  # never the DSN
        return unavailable(self.retry_after_seconds)

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection (waiting at most timeout, by default
        db_acquire_timeout_seconds); an unreachable database is the 503 envelope."""
        try:
            cm = self.pool.connection(timeout=timeout or self.acquire_seconds)
            conn = cm.__enter__()
        except psycopg.OperationalError as exc:  # PoolTimeout is one
            raise self.unavailable(exc) from exc
        try:
            yield conn
        except BaseException as exc:
            cm.__exit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            cm.__exit__(None, None, None)

    @asynccontextmanager
    async def aconnection(
        self, acquire_seconds: float | None = None
    ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled autocommit connection of the event loop; errors as in connection()."""
        try:
            cm = self.gate_pool.connection(timeout=acquire_seconds or self.acquire_seconds)
            conn = await cm.__aenter__()
        except psycopg.OperationalError as exc:
            raise self.unavailable(exc) from exc
        try:
            yield conn
        except BaseException as exc:
            await cm.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            await cm.__aexit__(None, None, None)
