"""Completion of archive imports (issue 12's bench): against real RabbitMQ and
PostgreSQL and the real writer, an archive import never starts a gap refill
(it is no Binance fetch), its series' gaps are still detected once the imports
of the series are stored, and a hole filled by a later import is marked
refilled; an unfinished import of the series holds back the others' detection."""

from __future__ import annotations

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


async def test_an_unfinished_import_holds_back_detection(
    db_pool: asyncpg.Pool, symbol: str
) -> None:
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
    other = uuid.uuid4()
    assert await repo.imports_unfinished(db_pool, symbol, "1h", other, 3600) == 1
    assert await repo.imports_unfinished(db_pool, symbol, "1h", waiting, 3600) == 0
    assert await repo.imports_unfinished(db_pool, symbol, "4h", other, 3600) == 0
    await db_pool.execute(
        "UPDATE ingest_jobs SET created_at = now() - interval '2 hours' WHERE id = $1", waiting
    )
    assert await repo.imports_unfinished(db_pool, symbol, "1h", other, 3600) == 0  # stale
