"""The asyncpg pool every service uses, with a tenacity wait for the database, and
the session advisory lock that keeps a scheduler to one replica at a time.

A connection goes back to the pool without asyncpg's default reset query
(`pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`), which costs a
round trip and a statement on every `pool.fetch`/`execute`/`acquire`: about a
tenth of ingest-crypto's CPU per imported archive file. Nothing in Ticktide
leaves session state behind except the session advisory lock of
`try_advisory_lock`: a connection that took one is marked (by its server
process id) and gets the full reset when it is released. Settings are only
ever `SET LOCAL` (gone at commit); an open transaction is still rolled back by
asyncpg itself on release, whatever the reset."""

from __future__ import annotations

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from ticktide_common.logging import get_logger

__all__ = ["create_pool", "wait_for_database", "try_advisory_lock", "advisory_unlock"]

log = get_logger(__name__)

Connection = asyncpg.Connection | PoolConnectionProxy

# Server process ids of pooled connections that hold session state (a session
# advisory lock) and must be reset in full when released.
_SESSION_STATE: set[int] = set()


async def _reset_on_release(connection: asyncpg.Connection) -> None:
    """The pool's reset: the full reset query only for a marked connection."""
    pid = connection.get_server_pid()
    if pid in _SESSION_STATE:
        query = connection.get_reset_query()
        if query:
            await connection.execute(query)
        _SESSION_STATE.discard(pid)


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
        reset=_reset_on_release,
    )
    assert pool is not None
    return pool


async def try_advisory_lock(conn: Connection, key: int) -> bool:
    """Take session advisory lock `key` if free; False when another session holds
    it. The connection is reset in full when it goes back to the pool, so a lock
    that is never unlocked dies with the borrowing, not with the connection."""
    _SESSION_STATE.add(conn.get_server_pid())
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", key))


async def advisory_unlock(conn: Connection, key: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1)", key)
