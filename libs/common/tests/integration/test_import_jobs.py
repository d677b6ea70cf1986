"""`import_jobs` on the real PostgreSQL: the per-user bound on unfinished archive
imports checked by the insert itself (`create_import_job`), and the close of one
import in one statement (`finish_import`: the finalize claim's rule, done, and
the count of the series' other unfinished imports)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ticktide_common.import_jobs import create_import_job, finish_import, unfinished_imports
from ticktide_common.jobs import mark_job_failed

pytestmark = pytest.mark.integration

START = datetime(2020, 1, 1, tzinfo=UTC)
STALE = 300.0  # a 'finalizing' claim older than this is retaken
PENDING_STALE = 3600.0  # an unfinished import older than this no longer counts


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _symbol() -> str:
    return f"T{uuid.uuid4().hex[:8].upper()}USDT"


async def _create(
    pool: asyncpg.Pool,
    *,
    user: str = "tests",
    symbol: str = "BTCUSDT",
    interval: str = "1h",
    batches: int = 1,
    bound: int = 512,
) -> uuid.UUID | None:
    return await create_import_job(
        pool,
        symbol=symbol,
        interval=interval,
        start=START,
        end=START + timedelta(days=31),
        requested_by=user,
        batches=batches,
        candles=744 * batches,
        source="binance-archive",
        bound=bound,
    )


async def _store_batch(pool: asyncpg.Pool, job_id: uuid.UUID) -> None:
    await pool.execute(
        "INSERT INTO ingest_batches (batch_id, job_id, candles) VALUES ($1, $2, 744)",
        uuid.uuid4(),
        job_id,
    )


async def _status(pool: asyncpg.Pool, job_id: uuid.UUID) -> tuple[str, datetime | None]:
    row = await pool.fetchrow("SELECT status, finished_at FROM ingest_jobs WHERE id = $1", job_id)
    assert row is not None
    return row["status"], row["finished_at"]


async def _jobs_of(pool: asyncpg.Pool, user: str) -> int:
    return int(
        await pool.fetchval("SELECT count(*) FROM ingest_jobs WHERE requested_by = $1", user)
    )


async def test_the_bound_refuses_the_insert_once_reached(db_pool: asyncpg.Pool) -> None:
    user = _user()
    jobs = [await _create(db_pool, user=user, bound=3) for _ in range(3)]
    assert all(job is not None for job in jobs)
    assert await unfinished_imports(db_pool, user) == 3
    assert await _create(db_pool, user=user, bound=3) is None
    assert await _jobs_of(db_pool, user) == 3  # nothing inserted by the refusal
    # Another user has a bound of their own.
    assert await _create(db_pool, user=_user(), bound=3) is not None


async def test_stored_done_and_failed_imports_leave_the_bound(db_pool: asyncpg.Pool) -> None:
    user = _user()
    first, second, third = [await _create(db_pool, user=user, bound=3) for _ in range(3)]
    assert first and second and third
    await _store_batch(db_pool, first)  # every batch stored, not finalized yet
    assert await unfinished_imports(db_pool, user) == 2
    assert await _create(db_pool, user=user, bound=3) is not None
    assert await _create(db_pool, user=user, bound=3) is None
    await mark_job_failed(db_pool, second, "publishing failed")
    await db_pool.execute("UPDATE ingest_jobs SET status = 'done' WHERE id = $1", third)
    assert await unfinished_imports(db_pool, user) == 1
    assert await _create(db_pool, user=user, bound=3) is not None
    assert await _create(db_pool, user=user, bound=3) is not None
    assert await _create(db_pool, user=user, bound=3) is None
    assert await _jobs_of(db_pool, user) == 6


async def test_finish_claims_only_a_stored_import_and_counts_the_series(
    db_pool: asyncpg.Pool,
) -> None:
    symbol = _symbol()
    waiting = await _create(db_pool, symbol=symbol)
    closing = await _create(db_pool, symbol=symbol)
    other_interval = await _create(db_pool, symbol=symbol, interval="4h", batches=0)
    assert waiting and closing and other_interval

    async with db_pool.acquire() as conn:

        async def finish(job_id: uuid.UUID, interval: str = "1h") -> int | None:
            async with conn.transaction():
                return await finish_import(
                    conn,
                    job_id,
                    symbol=symbol,
                    interval=interval,
                    claimed=False,
                    stale_seconds=STALE,
                    pending_stale_seconds=PENDING_STALE,
                )

        assert await finish(closing) is None  # its batch is not stored yet
        assert (await _status(db_pool, closing))[0] == "fetched"
        await _store_batch(db_pool, closing)
        assert await finish(closing, interval="4h") is None  # not an import of that series
        assert await finish(closing) == 1  # `waiting` is unfinished; the 4h one is another series
        status, finished_at = await _status(db_pool, closing)
        assert status == "done" and finished_at is not None
        assert await finish(closing) is None  # a redelivered event finds it done
        assert await _status(db_pool, closing) == (status, finished_at)
        assert await finish(other_interval, interval="4h") == 0
        # An unfinished import older than the pending limit no longer holds back.
        await db_pool.execute(
            "UPDATE ingest_jobs SET created_at = now() - interval '2 hours' WHERE id = $1", waiting
        )
        last = await _create(db_pool, symbol=symbol, batches=0)
        assert last is not None
        assert await finish(last) == 0


async def test_finish_rolls_back_with_the_transaction(db_pool: asyncpg.Pool) -> None:
    symbol = _symbol()
    job = await _create(db_pool, symbol=symbol, batches=0)
    assert job is not None
    async with db_pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                others = await finish_import(
                    conn,
                    job,
                    symbol=symbol,
                    interval="1h",
                    claimed=False,
                    stale_seconds=STALE,
                    pending_stale_seconds=PENDING_STALE,
                )
                assert others == 0
                raise RuntimeError("the gap detection failed")
    assert await _status(db_pool, job) == ("fetched", None)  # not stuck 'finalizing'


async def test_a_claim_is_closed_by_its_holder_or_retaken_once_stale(
    db_pool: asyncpg.Pool,
) -> None:
    symbol = _symbol()
    fresh = await _create(db_pool, symbol=symbol, batches=0)
    stale = await _create(db_pool, symbol=symbol, batches=0)
    assert fresh and stale
    await db_pool.execute(
        "UPDATE ingest_jobs SET status = 'finalizing' WHERE id = ANY($1::uuid[])", [fresh, stale]
    )
    await db_pool.execute(
        "UPDATE ingest_jobs SET updated_at = now() - interval '10 minutes' WHERE id = $1", stale
    )

    async def finish(job_id: uuid.UUID, *, claimed: bool) -> int | None:
        async with db_pool.acquire() as conn, conn.transaction():
            return await finish_import(
                conn,
                job_id,
                symbol=symbol,
                interval="1h",
                claimed=claimed,
                stale_seconds=STALE,
                pending_stale_seconds=PENDING_STALE,
            )

    assert await finish(fresh, claimed=False) is None  # another finalizer holds it
    assert await finish(stale, claimed=False) == 1  # retaken; `fresh` is still unfinished
    assert await finish(fresh, claimed=True) == 0  # its holder closes it
    assert (await _status(db_pool, fresh))[0] == "done"
    assert await finish(fresh, claimed=True) is None
