"""`create_pool`'s release without asyncpg's reset query, on the real PostgreSQL:
a plain borrowing sends no extra statement, a borrowing that took a session
advisory lock is reset in full (the lock cannot outlive it), and an open
transaction is still rolled back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from ticktide_common.db import create_pool, try_advisory_lock

pytestmark = pytest.mark.integration

LOCK_KEY = 912_345_678


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=1, max_size=1)
    yield created
    await created.close()


async def _last_statement(database_url: str, pid: int) -> str:
    observer = await asyncpg.connect(database_url)
    try:
        return str(
            await observer.fetchval("SELECT query FROM pg_stat_activity WHERE pid = $1", pid)
        )
    finally:
        await observer.close()


async def test_a_plain_borrowing_is_released_without_a_reset_query(
    pool: asyncpg.Pool, database_url: str
) -> None:
    async with pool.acquire() as connection:
        pid = connection.get_server_pid()
        assert await connection.fetchval("SELECT 41 + 1") == 42
    # One connection in the pool: the same backend, and its last statement is ours.
    assert "SELECT 41 + 1" in await _last_statement(database_url, pid)
    assert await pool.fetchval("SELECT pg_backend_pid()") == pid


async def test_a_session_lock_left_held_dies_with_the_borrowing(
    pool: asyncpg.Pool, database_url: str
) -> None:
    async with pool.acquire() as connection:
        pid = connection.get_server_pid()
        assert await try_advisory_lock(connection, LOCK_KEY)
        # released without advisory_unlock, as a cancelled task would
    assert "pg_advisory_unlock_all" in await _last_statement(database_url, pid)
    other = await asyncpg.connect(database_url)
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        await other.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await other.close()
    # The mark is spent: the next plain borrowing of that backend is not reset again.
    async with pool.acquire() as connection:
        assert connection.get_server_pid() == pid
        await connection.execute("SELECT 'after the lock'")
    assert "after the lock" in await _last_statement(database_url, pid)


async def test_an_open_transaction_is_still_rolled_back_on_release(pool: asyncpg.Pool) -> None:
    await pool.execute("CREATE TABLE IF NOT EXISTS pool_reset_probe (n integer)")
    try:
        async with pool.acquire() as connection:
            await connection.execute("BEGIN")
            await connection.execute("INSERT INTO pool_reset_probe VALUES (1)")
        assert await pool.fetchval("SELECT count(*) FROM pool_reset_probe") == 0
    finally:
        await pool.execute("DROP TABLE pool_reset_probe")
