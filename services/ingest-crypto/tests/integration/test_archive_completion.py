"""Completion of archive imports (issue 12's bench): against real RabbitMQ and
PostgreSQL and the real writer, an archive import never starts a gap refill
(it is no Binance fetch), its series' gaps are still detected once the imports
of the series are stored, and a hole filled by a later import is marked
refilled; an unfinished import of the series holds back the others' detection;
closes racing on one series are exactly once and detect once; a failed close is
left to the next attempt."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ticktide_common.import_jobs import create_import_job
from ticktide_common.messages import CandleV1
from ticktide_common.testing.ingest import finished_job
from ticktide_ingest_crypto import repository as repo
from ticktide_ingest_crypto.archive import ArchiveContents
from ticktide_ingest_crypto.archive_upload import import_archive

HOUR = timedelta(hours=1)
MONTHS = [datetime(2020, m, 1, tzinfo=UTC) for m in (1, 2, 3, 4)]


@pytest.fixture(autouse=True)
async def forget_gaps(db_pool: asyncpg.Pool, symbol: str) -> AsyncIterator[None]:
    """Other tests' refill passes take every due gap of the shared database."""
    yield
    await db_pool.execute(
        """DELETE FROM crypto_gaps
           WHERE crypto_id IN (SELECT id FROM cryptocurrencies WHERE binance_symbol = $1)""",
        symbol,
    )


def month(symbol: str, index: int) -> ArchiveContents:
    start, end = MONTHS[index], MONTHS[index + 1]
    hours = int((end - start) / HOUR)
    candles = [
        CandleV1(t=start + h * HOUR, o="1.5", h="2", l="1", c="1.25", v="10") for h in range(hours)
    ]
    return ArchiveContents(symbol, "1h", candles, start, end, checksum_verified=False)


async def gaps(pool: asyncpg.Pool, symbol: str) -> list[tuple[datetime, datetime, str]]:
    rows = await pool.fetch(
        """SELECT g.gap_start, g.gap_end, g.status FROM crypto_gaps g
           JOIN cryptocurrencies c ON c.id = g.crypto_id
           WHERE c.binance_symbol = $1 ORDER BY g.gap_start""",
        symbol,
    )
    return [(r["gap_start"], r["gap_end"], r["status"]) for r in rows]


async def refills(pool: asyncpg.Pool, symbol: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM ingest_jobs WHERE symbol = $1 AND kind = 'gap-refill'", symbol
        )
    )


async def test_archive_imports_detect_gaps_without_refills(
    pipeline, db_pool: asyncpg.Pool, symbol: str
) -> None:
    first = await import_archive(db_pool, pipeline.bus, month(symbol, 0), "tests")
    third = await import_archive(db_pool, pipeline.bus, month(symbol, 2), "tests")
    for answer in (first, third):
        assert (await finished_job(db_pool, uuid.UUID(answer["job_id"]))).status == "done"
    # February is a hole: recorded open, and no refill from Binance is asked for.
    assert await gaps(db_pool, symbol) == [(MONTHS[1], MONTHS[2], "open")]
    assert await refills(db_pool, symbol) == 0

    second = await import_archive(db_pool, pipeline.bus, month(symbol, 1), "tests")
    assert (await finished_job(db_pool, uuid.UUID(second["job_id"]))).status == "done"
    assert await gaps(db_pool, symbol) == [(MONTHS[1], MONTHS[2], "refilled")]
    assert await refills(db_pool, symbol) == 0


async def _ready_import(pool: asyncpg.Pool, symbol: str, index: int) -> uuid.UUID:
    """An import of `symbol` 1h whose (zero) batches are all stored: ready to close."""
    job_id = await create_import_job(
        pool,
        symbol=symbol,
        interval="1h",
        start=MONTHS[0] + index * HOUR,
        end=MONTHS[0] + (index + 1) * HOUR,
        requested_by="tests",
        batches=0,
        candles=0,
        source="binance-archive",
    )
    assert job_id is not None
    return job_id


async def _candles_with_a_hole(pool: asyncpg.Pool, symbol: str) -> None:
    """Hours 0-3 and 8-9 of January 2020: a hole of hours 4-7."""
    crypto_id = await pool.fetchval(
        """INSERT INTO cryptocurrencies (symbol, name, binance_symbol) VALUES ($1, $1, $1)
           ON CONFLICT (binance_symbol) DO UPDATE SET symbol = excluded.symbol RETURNING id""",
        symbol,
    )
    await pool.executemany(
        """INSERT INTO crypto_prices (crypto_id, datetime, interval_type, open_price, high_price,
                                      low_price, close_price, volume, source)
           VALUES ($1, $2, '1h', 1, 2, 1, 1.5, 10, 'binance-archive')""",
        [(crypto_id, MONTHS[0] + h * HOUR) for h in (0, 1, 2, 3, 8, 9)],
    )


async def test_concurrent_closes_of_a_series_are_exactly_once_and_detect_once(
    pipeline, db_pool: asyncpg.Pool, symbol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every import of a series closing at once, each by its stored event and by
    the sweep's claim at the same time: each is closed once, and the series' gaps
    are detected once (by the last to take the series lock), not never."""
    await _candles_with_a_hole(db_pool, symbol)
    detections: list[int] = []
    detect = repo.detect_gaps

    async def counted(*args, **kwargs):  # the real detection, counted
        detections.append(1)
        return await detect(*args, **kwargs)

    monkeypatch.setattr(repo, "detect_gaps", counted)
    ingester = pipeline.ingester
    for round_ in range(1, 6):  # a race lost by chance once in a few rounds still shows
        jobs = [await _ready_import(db_pool, symbol, i) for i in range(8)]
        closed = await asyncio.gather(
            *(ingester.finalize_import(job, symbol, "1h") for job in jobs),
            *(ingester.completer.try_finalize(job) for job in jobs),
        )
        assert sum(closed) == len(jobs)
        for index in range(len(jobs)):
            assert closed[index] != closed[len(jobs) + index]  # one path closed it, never both
        statuses = await db_pool.fetch(
            "SELECT status, finished_at FROM ingest_jobs WHERE id = ANY($1::uuid[])", jobs
        )
        assert [r["status"] for r in statuses] == ["done"] * len(jobs)
        assert all(r["finished_at"] is not None for r in statuses)
        assert len(detections) == round_
    assert await gaps(db_pool, symbol) == [(MONTHS[0] + 4 * HOUR, MONTHS[0] + 8 * HOUR, "open")]
    # A redelivered stored event, or the sweep, finds nothing left to close.
    assert not await ingester.finalize_import(jobs[0], symbol, "1h")
    assert not await ingester.completer.try_finalize(jobs[0])
    assert len(detections) == 5


async def test_an_unfinished_import_holds_back_detection(
    pipeline, db_pool: asyncpg.Pool, symbol: str
) -> None:
    await _candles_with_a_hole(db_pool, symbol)
    waiting = await create_import_job(
        db_pool,
        symbol=symbol,
        interval="1h",
        start=MONTHS[0],
        end=MONTHS[1],
        requested_by="tests",
        batches=1,
        candles=744,
        source="binance-archive",
    )
    assert waiting is not None
    ingester = pipeline.ingester
    assert await ingester.finalize_import(await _ready_import(db_pool, symbol, 0), symbol, "1h")
    assert await gaps(db_pool, symbol) == []  # deferred: `waiting` is not stored yet
    assert not await ingester.finalize_import(waiting, symbol, "1h")  # nor ready to close
    await db_pool.execute(
        "UPDATE ingest_jobs SET created_at = now() - interval '2 hours' WHERE id = $1", waiting
    )
    # Older than the pending limit: it no longer holds back the next import's detection.
    assert await ingester.finalize_import(await _ready_import(db_pool, symbol, 1), symbol, "1h")
    assert await gaps(db_pool, symbol) == [(MONTHS[0] + 4 * HOUR, MONTHS[0] + 8 * HOUR, "open")]


async def test_a_failed_close_leaves_the_import_to_the_next_attempt(
    pipeline, db_pool: asyncpg.Pool, symbol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close is one transaction: a failure in it leaves the import `fetched`
    (not a 'finalizing' claim waiting out the stale limit), and the next stored
    event or sweep closes it."""
    await _candles_with_a_hole(db_pool, symbol)
    job = await _ready_import(db_pool, symbol, 0)
    detect = repo.detect_gaps

    async def broken(*args, **kwargs):
        raise asyncpg.PostgresConnectionError("the connection dropped")

    monkeypatch.setattr(repo, "detect_gaps", broken)
    with pytest.raises(asyncpg.PostgresConnectionError):
        await pipeline.ingester.finalize_import(job, symbol, "1h")
    assert await db_pool.fetchval("SELECT status FROM ingest_jobs WHERE id = $1", job) == "fetched"
    monkeypatch.setattr(repo, "detect_gaps", detect)
    assert await pipeline.ingester.completer.sweep() >= 1
    assert await db_pool.fetchval("SELECT status FROM ingest_jobs WHERE id = $1", job) == "done"
    assert await gaps(db_pool, symbol) == [(MONTHS[0] + 4 * HOUR, MONTHS[0] + 8 * HOUR, "open")]
