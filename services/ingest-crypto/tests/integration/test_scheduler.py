"""The scheduler: incremental scheduled jobs from the last stored bar, one
replica per tick (advisory lock), no pile-up of jobs, due gap refills."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

from ticktide_common.jobs import get_job_progress
from ticktide_common.testing.processes import wait_until
from ticktide_ingest_crypto import repository as repo
from ticktide_ingest_crypto.gaps import align_down, datetime_to_ms, ms_to_datetime
from ticktide_ingest_crypto.scheduler import SCHEDULER_LOCK_KEY, Scheduler

DAY = timedelta(days=1)


async def _of_symbol(pool, job_ids, symbol: str) -> list:
    """The jobs of `symbol`: the run's database may hold due gaps of other tests'
    series, which a tick refills too."""
    return [j for j in job_ids if (await get_job_progress(pool, j)).symbol == symbol]  # type: ignore[union-attr]


async def _all_finished(pool, job_ids) -> bool:
    for job_id in job_ids:
        progress = await get_job_progress(pool, job_id)
        if progress is None or not progress.finished:
            return False
    return True


async def test_scheduled_refresh_from_last_stored_bar(
    make_pipeline, db_pool, fake_binance, symbol
) -> None:
    now = time.time()
    today = ms_to_datetime(align_down(int(now * 1000), "1d"))
    fake_binance.add_series(symbol, "1d", today - 30 * DAY, today + DAY, holes=[today - 5 * DAY])
    built = await make_pipeline(
        crypto_symbols=[symbol],
        crypto_intervals=["1d"],
        crypto_history_days=10,
        crypto_schedule_seconds=600.0,
        crypto_gap_retry_seconds=0.0,
    )
    scheduler = Scheduler(
        pool=db_pool,
        bus=built.bus,
        ingester=built.ingester,
        settings=built.settings,
        clock=lambda: now,
    )

    # Another replica holds the lock: this tick does nothing.
    async with db_pool.acquire() as other:
        assert await repo.try_advisory_lock(other, SCHEDULER_LOCK_KEY)
        assert await scheduler.tick() == []
        await repo.advisory_unlock(other, SCHEDULER_LOCK_KEY)

    first = await _of_symbol(db_pool, await scheduler.tick(), symbol)
    assert len(first) == 1
    await wait_until(lambda: _all_finished(db_pool, first), what="first scheduled job")
    job = await get_job_progress(db_pool, first[0])
    assert job is not None and job.kind == "scheduled" and job.status == "done"
    assert job.start == today - 10 * DAY and job.end == today + DAY
    stored = await db_pool.fetchval(
        """SELECT count(*) FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = $1""",
        symbol,
    )
    assert stored == 10  # 11 bars, one of them a hole at the source

    # A second tick soon after adds no scheduled job for the same series, but retries
    # the open gap at once (retry interval 0 here).
    second = await _of_symbol(db_pool, await scheduler.tick(), symbol)
    kinds = [(await get_job_progress(db_pool, j)).kind for j in second]  # type: ignore[union-attr]
    assert kinds == ["gap-refill"]
    await wait_until(lambda: _all_finished(db_pool, second), what="gap refill")

    # Later: the next scheduled job starts at the newest stored bar (inclusive).
    later = now + 3600
    scheduler.clock = lambda: later
    await db_pool.execute(
        "UPDATE ingest_jobs SET created_at = created_at - interval '2 hours',"
        " finished_at = finished_at - interval '2 hours' WHERE symbol = $1",
        symbol,
    )
    fake_binance.heal(symbol, "1d")
    third = [
        j
        for j in await _of_symbol(db_pool, await scheduler.tick(), symbol)
        if (await get_job_progress(db_pool, j)).kind == "scheduled"
    ]  # type: ignore[union-attr]
    assert len(third) == 1
    job = await get_job_progress(db_pool, third[0])
    assert job is not None
    assert job.start == today
    assert job.end == ms_to_datetime(align_down(int(later * 1000), "1d")) + DAY
    await wait_until(lambda: _all_finished(db_pool, third), what="third scheduled job")
    last = await repo.last_open_time(db_pool, symbol, "1d")
    assert last is not None and datetime_to_ms(last) == datetime_to_ms(today)
    assert last.tzinfo is not None and last.astimezone(UTC) == today
