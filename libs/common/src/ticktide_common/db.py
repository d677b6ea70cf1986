"""The asyncpg pool every service uses, with a tenacity wait for the database."""

from __future__ import annotations

import asyncpg
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from ticktide_common.logging import get_logger

__all__ = ["create_pool", "wait_for_database"]

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
