"""CryptoIngester (on the ingest lifecycle) against real RabbitMQ and PostgreSQL,
with the fake Binance upstream and the real writer: jobs complete, candles are stored
digit for digit, holes become open gaps, refill, and are marked refilled once
the source has them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ticktide_common.jobs import get_job_progress
from ticktide_common.messages import CryptoBackfillRequestedV1
from ticktide_common.testing.processes import free_port, wait_until
from ticktide_ingest_crypto.gaps import datetime_to_ms
from ticktide_ingest_crypto.scheduler import run_periodically
from ticktide_ingest_crypto.simulated import simulated_candles
from ticktide_ingest_crypto.testing.fake_binance import FakeBinance

START = datetime(2024, 3, 1, tzinfo=UTC)
END = START + timedelta(days=45)  # 1080 hourly bars: two pages
HOLE_ONE = START + timedelta(hours=100)
HOLE_THREE = [START + timedelta(hours=h) for h in (700, 701, 702)]


async def _stored(pool: asyncpg.Pool, symbol: str, interval: str = "1h") -> list[tuple]:
    rows = await pool.fetch(
        """SELECT p.datetime, p.open_price::text, p.high_price::text, p.low_price::text,
                  p.close_price::text, p.volume::text, p.source
           FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = $1 AND p.interval_type = $2 ORDER BY p.datetime""",
        symbol,
        interval,
    )
    return [tuple(row) for row in rows]


async def _gaps(pool: asyncpg.Pool, symbol: str) -> list[tuple]:
    rows = await pool.fetch(
        """SELECT g.gap_start, g.gap_end, g.candles, g.status, g.refilled_candles,
                  g.refill_attempts
           FROM crypto_gaps g JOIN cryptocurrencies c ON c.id = g.crypto_id
           WHERE c.binance_symbol = $1 ORDER BY g.gap_start""",
        symbol,
    )
    return [tuple(row) for row in rows]


async def _jobs(pool: asyncpg.Pool, symbol: str, kind: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM ingest_jobs WHERE symbol = $1 AND kind = $2", symbol, kind
    )


async def test_backfill_gaps_refill_and_heal(
    pipeline, fake_binance: FakeBinance, symbol: str
) -> None:
    served = fake_binance.add_series(symbol, "1h", START, END, holes=[HOLE_ONE, *HOLE_THREE])
    assert served == 1080 - 4
    job_id = await pipeline.backfill(symbol, START, END)
    assert await pipeline.finished(job_id) == "done"

    expected = [
        (c.t, c.o, c.h, c.l, c.c, c.v, "binance") for c in fake_binance.served_candles(symbol, "1h")
    ]
    assert await _stored(pipeline.pool, symbol) == expected
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None
    assert (progress.batches_expected, progress.candles_expected) == (2, 1076)
    assert (progress.batches_stored, progress.candles_stored) == (2, 1076)

    hour = timedelta(hours=1)

    # Both holes are recorded; refills were requested at once and found nothing yet.
    async def refills_finished() -> bool:
        jobs = await _jobs(pipeline.pool, symbol, "gap-refill")
        return len(jobs) == 2 and all(j["status"] == "done" for j in jobs)

    await wait_until(refills_finished, timeout=30, what="two gap-refill jobs to finish")
    assert await _gaps(pipeline.pool, symbol) == [
        (HOLE_ONE, HOLE_ONE + hour, 1, "open", 0, 1),
        (HOLE_THREE[0], HOLE_THREE[-1] + hour, 3, "open", 0, 1),
    ]
    refill_ranges = sorted(
        (j["range_start"], j["range_end"]) for j in await _jobs(pipeline.pool, symbol, "gap-refill")
    )
    assert refill_ranges == [(HOLE_ONE, HOLE_ONE + hour), (HOLE_THREE[0], HOLE_THREE[-1] + hour)]

    # The source heals; the next load of the range fills the holes → refilled.
    fake_binance.heal(symbol, "1h")
    again = await pipeline.backfill(symbol, START, END)
    assert await pipeline.finished(again) == "done"
    assert [row[:5] for row in await _gaps(pipeline.pool, symbol)] == [
        (HOLE_ONE, HOLE_ONE + hour, 1, "refilled", 1),
        (HOLE_THREE[0], HOLE_THREE[-1] + hour, 3, "refilled", 3),
    ]
    assert len(await _stored(pipeline.pool, symbol)) == 1080
    assert len(await _jobs(pipeline.pool, symbol, "gap-refill")) == 2  # nothing left to refill


async def test_rerun_publishes_the_same_batch_ids(
    pipeline, fake_binance: FakeBinance, symbol: str
) -> None:
    fake_binance.add_series(symbol, "1h", START, END)
    job_id = await pipeline.backfill(symbol, START, END)
    assert await pipeline.finished(job_id) == "done"
    # As if the command were redelivered while the job was still running.
    await pipeline.pool.execute("UPDATE ingest_jobs SET status = 'running' WHERE id = $1", job_id)
    command = CryptoBackfillRequestedV1(
        job_id=job_id, symbol=symbol, interval="1h", start=START, end=END
    )
    await pipeline.ingester.handle_backfill(command)
    assert await pipeline.finished(job_id) == "done"
    ids = [b.batch_id for b in pipeline.batches if b.job_id == job_id]
    assert len(ids) == 4 and len(set(ids)) == 2
    stored = await pipeline.pool.fetchval(
        "SELECT count(*) FROM ingest_batches WHERE job_id = $1", job_id
    )
    assert stored == 2
    # A command for a job that is done is skipped.
    before = len(pipeline.batches)
    await pipeline.ingester.handle_backfill(command)
    assert len(pipeline.batches) == before


async def test_invalid_symbol_fails_the_job(pipeline) -> None:
    job_id = await pipeline.backfill("NOSUCHUSDT", START, END)
    assert await pipeline.finished(job_id) == "failed"
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None and progress.error is not None
    assert "Invalid symbol." in progress.error and "-1121" in progress.error


async def test_empty_range_is_done_with_zero_batches(
    pipeline, fake_binance: FakeBinance, symbol: str
) -> None:
    fake_binance.add_symbol(symbol)
    job_id = await pipeline.backfill(symbol, START, END)
    assert await pipeline.finished(job_id) == "done"
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None
    assert (progress.batches_expected, progress.candles_expected) == (0, 0)


async def test_unreachable_upstream_without_fallback_fails(
    make_pipeline, db_pool, symbol: str
) -> None:
    built = await make_pipeline(
        binance_base_url=f"http://127.0.0.1:{free_port()}", crypto_fetch_max_attempts=2
    )
    job_id = await built.backfill(symbol, START, END)
    assert await built.finished(job_id, timeout=60) == "failed"
    progress = await get_job_progress(db_pool, job_id)
    assert progress is not None and progress.error is not None
    assert "gave up after 2 attempts" in progress.error and "unreachable" in progress.error


async def test_unreachable_upstream_falls_back_to_simulated(
    make_pipeline, db_pool, symbol: str
) -> None:
    built = await make_pipeline(
        binance_base_url=f"http://127.0.0.1:{free_port()}", ticktide_simulated_fallback=True
    )
    end = START + timedelta(days=2)
    job_id = await built.backfill(symbol, START, end)
    assert await built.finished(job_id) == "done"
    expected = [
        (c.t, c.o, c.h, c.l, c.c, c.v, "simulated")
        for c in simulated_candles(symbol, "1h", datetime_to_ms(START), datetime_to_ms(end))
    ]
    assert len(expected) == 48
    assert await _stored(db_pool, symbol) == expected
    job = (await _jobs(db_pool, symbol, "backfill"))[0]
    assert job["source"] == "simulated"


async def test_sweep_finalizes_a_job_whose_stored_events_came_first(
    pipeline, fake_binance: FakeBinance, symbol: str
) -> None:
    """The writer may store every batch before the ingester marks the job fetched;
    the stored events then find nothing to claim and the sweep closes the job."""
    fake_binance.add_series(symbol, "1d", START, END)
    job_id = await pipeline.backfill(symbol, START, END, interval="1d")
    assert await pipeline.finished(job_id) == "done"
    await pipeline.pool.execute("UPDATE ingest_jobs SET status = 'fetched' WHERE id = $1", job_id)
    assert await pipeline.ingester.completer.sweep() >= 1
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None and progress.status == "done"
    # run_periodically keeps going after a failing call.
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("boom")
        raise KeyboardInterrupt  # leaves the loop for the test

    with pytest.raises(KeyboardInterrupt):
        await run_periodically(flaky, 0.01, "test")
    assert len(calls) == 3
