"""Issue 10's ingest-crypto findings against real RabbitMQ and PostgreSQL with the
fake Binance and the real writer: a backfill before Binance's history is
refused by the ingester itself; a gap refill fetches at most
`max_backfill_candles` bars and resumes where the previous one stopped; with
Binance unavailable and the simulated fallback on, no simulated candle is
written into a gap (the refill fails, the gap stays open)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ticktide_common.jobs import get_job_progress
from ticktide_common.testing.processes import wait_until
from ticktide_ingest_crypto.service import CryptoIngester
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

START = datetime(2024, 3, 1, tzinfo=UTC)
END = START + timedelta(days=45)  # 1080 hourly bars
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
async def forget_open_gaps(db_pool: asyncpg.Pool, symbol: str) -> AsyncIterator[None]:
    """These tests leave open gaps due at once; other tests' refill passes (which
    take every due gap of the shared database) must not pick them up."""
    yield
    await db_pool.execute(
        """DELETE FROM crypto_gaps
           WHERE crypto_id IN (SELECT id FROM cryptocurrencies WHERE binance_symbol = $1)""",
        symbol,
    )


def hours(first: int, last: int) -> list[datetime]:
    return [START + h * HOUR for h in range(first, last)]


async def _stored(pool: asyncpg.Pool, symbol: str) -> list[tuple[datetime, str]]:
    rows = await pool.fetch(
        """SELECT p.datetime, p.source FROM crypto_prices p
           JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = $1 ORDER BY p.datetime""",
        symbol,
    )
    return [(r["datetime"], r["source"]) for r in rows]


async def _refills(pool: asyncpg.Pool, symbol: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT id, status, range_start, range_end, error FROM ingest_jobs
           WHERE symbol = $1 AND kind = 'gap-refill' ORDER BY created_at""",
        symbol,
    )


async def _open_gaps(pool: asyncpg.Pool, symbol: str) -> list[tuple[datetime, datetime, str]]:
    rows = await pool.fetch(
        """SELECT g.gap_start, g.gap_end, g.status FROM crypto_gaps g
           JOIN cryptocurrencies c ON c.id = g.crypto_id
           WHERE c.binance_symbol = $1 ORDER BY g.gap_start""",
        symbol,
    )
    return [(r["gap_start"], r["gap_end"], r["status"]) for r in rows]


async def _refills_finished(pool: asyncpg.Pool, symbol: str, count: int) -> None:
    async def finished() -> bool:
        jobs = await _refills(pool, symbol)
        return len(jobs) == count and all(j["status"] in ("done", "failed") for j in jobs)

    await wait_until(finished, timeout=60, what=f"{count} gap-refill jobs of {symbol}")


async def test_a_year_one_backfill_is_refused_by_the_ingester(
    make_pipeline, db_pool: asyncpg.Pool, symbol: str, fake_binance: FakeBinance
) -> None:
    fake_binance.add_symbol(symbol)
    built = await make_pipeline(ticktide_simulated_fallback=True)
    job_id = await built.backfill(
        symbol, datetime(1, 1, 1, tzinfo=UTC), datetime(1, 2, 1, tzinfo=UTC), "1d"
    )
    assert await built.finished(job_id) == "failed"
    progress = await get_job_progress(db_pool, job_id)
    assert progress is not None and progress.error is not None
    assert "before the crypto (Binance) history" in progress.error
    assert "CRYPTO_HISTORY_START" in progress.error
    assert await _stored(db_pool, symbol) == []
    assert not [b for b in built.batches if b.job_id == job_id]
    assert fake_binance.kline_requests(symbol) == []


async def test_a_gap_refill_is_capped_and_resumes_where_it_stopped(
    make_pipeline, db_pool: asyncpg.Pool, symbol: str, fake_binance: FakeBinance
) -> None:
    fake_binance.add_series(symbol, "1h", START, END, holes=hours(200, 700))
    built = await make_pipeline(max_backfill_candles=100, crypto_gap_retry_seconds=0)
    job_id = await built.backfill(symbol, START, END)
    assert await built.finished(job_id) == "done"
    gap = (START + 200 * HOUR, START + 700 * HOUR, "open")
    assert await _open_gaps(db_pool, symbol) == [gap]

    # The refill asked at once covers the first 100 of the 500 missing bars.
    await _refills_finished(db_pool, symbol, 1)
    (first,) = await _refills(db_pool, symbol)
    assert (first["range_start"], first["range_end"]) == (START + 200 * HOUR, START + 300 * HOUR)

    fake_binance.heal(symbol, "1h")
    assert len(await built.ingester.request_refills(symbol=symbol)) == 1
    await _refills_finished(db_pool, symbol, 2)
    assert len(await _stored(db_pool, symbol)) == 1080 - 400
    # The next attempt resumes after the newest bar stored inside the gap.
    assert len(await built.ingester.request_refills(symbol=symbol)) == 1
    await _refills_finished(db_pool, symbol, 3)
    ranges = [(j["range_start"], j["range_end"]) for j in await _refills(db_pool, symbol)]
    assert ranges == [
        (START + 200 * HOUR, START + 300 * HOUR),
        (START + 200 * HOUR, START + 300 * HOUR),
        (START + 300 * HOUR, START + 400 * HOUR),
    ]
    assert all(j["status"] == "done" for j in await _refills(db_pool, symbol))
    assert len(await _stored(db_pool, symbol)) == 1080 - 300
    refill_ids = {j["id"] for j in await _refills(db_pool, symbol)}
    assert max(len(b.candles) for b in built.batches if b.job_id in refill_ids) <= 100
    assert sum(len(b.candles) for b in built.batches if b.job_id in refill_ids) == 200


async def test_no_simulated_candle_fills_a_gap_when_binance_is_down(
    make_pipeline, db_pool: asyncpg.Pool, symbol: str, fake_binance: FakeBinance
) -> None:
    fake_binance.add_series(symbol, "1h", START, END, holes=hours(100, 110))
    # No refill at first (zero attempts allowed), so Binance goes down before it runs.
    built = await make_pipeline(
        ticktide_simulated_fallback=True,
        crypto_fetch_max_attempts=2,
        crypto_gap_max_refill_attempts=0,
    )
    job_id = await built.backfill(symbol, START, END)
    assert await built.finished(job_id) == "done"
    gap = (START + 100 * HOUR, START + 110 * HOUR, "open")
    assert await _open_gaps(db_pool, symbol) == [gap]
    assert await _refills(db_pool, symbol) == []

    fake_binance.stop()  # Binance unreachable from now on: the simulated fallback's case
    ingester = CryptoIngester(
        pool=db_pool,
        bus=built.bus,
        client=built.ingester.client,
        settings=built.settings.model_copy(update={"crypto_gap_max_refill_attempts": 5}),
    )
    assert len(await ingester.request_refills(symbol=symbol)) == 1
    await _refills_finished(db_pool, symbol, 1)

    (refill,) = await _refills(db_pool, symbol)
    assert refill["status"] == "failed", refill
    assert "gave up after 2 attempts" in refill["error"] and "unreachable" in refill["error"]
    stored = await _stored(db_pool, symbol)
    assert len(stored) == 1080 - 10
    assert {source for _, source in stored} == {"binance"}
    assert not [b for b in built.batches if b.source == "simulated"]
    assert await _open_gaps(db_pool, symbol) == [gap]  # retried later, still open
