"""The asyncpg pool every service uses, with a tenacity wait for the database, and
the session advisory lock that keeps a scheduler to one replica at a time."""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from ticktide_common.logging import get_logger

__all__ = ["create_pool", "wait_for_database", "try_advisory_lock", "advisory_unlock"]

log = get_logger(__name__)


async def wait_for_database(dsn: str, timeout: float = 30.0) -> None:
    """Return once PostgreSQL accepts a connection at `dsn`, or raise."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type((OSError, asyncpg.PostgresError)),
        wait=wait_fixed(0.5),
        stop=stop_after_delay(timeout),
        reraise=True,
    ):
        with attempt:
            connection = await asyncpg.connect(dsn, timeout=5)
            await connection.close()


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, application_name: str = "ticktide"
) -> asyncpg.Pool:
    await wait_for_database(dsn)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"application_name": application_name, "timezone": "UTC"},
    )
    assert pool is not None
    return pool


async def try_advisory_lock(conn: asyncpg.Connection | PoolConnectionProxy, key: int) -> bool:
    """Take session advisory lock `key` if free; False when another session holds it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))


async def advisory_unlock(conn: asyncpg.Connection | PoolConnectionProxy, key: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", key)
