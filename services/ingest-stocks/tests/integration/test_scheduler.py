"""The scheduler: after a market's close it requests the sessions not stored
yet, one replica per tick (advisory lock), without piling up jobs."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ticktide_common.jobs import get_job_progress
from ticktide_ingest_stocks import repository as repo
from ticktide_ingest_stocks.scheduler import SCHEDULER_LOCK_KEY, Scheduler
from ticktide_ingest_stocks.testing.fake_nasdaq import FakeNasdaq


async def test_scheduled_refresh_after_the_close(
    make_pipeline, db_pool, fake_nasdaq: FakeNasdaq, us_symbol: str
) -> None:
    fake_nasdaq.add_us_series(us_symbol, date(2024, 6, 1), date(2024, 7, 31))
    built = await make_pipeline(
        stock_symbols_nasdaq=[us_symbol], stock_symbols_omxh=[], stocks_history_days=10
    )
    # 2024-07-09 19:30 UTC: the 07-09 session (closes 20:00 UTC) is still open.
    moment = datetime(2024, 7, 9, 19, 30, tzinfo=UTC).timestamp()
    scheduler = Scheduler(
        pool=db_pool,
        bus=built.bus,
        ingester=built.ingester,
        settings=built.settings,
        clock=lambda: moment,
    )
    built.ingester.clock = lambda: moment

    async with db_pool.acquire() as other:
        assert await repo.try_advisory_lock(other, SCHEDULER_LOCK_KEY)
        assert await scheduler.tick() == []
        await repo.advisory_unlock(other, SCHEDULER_LOCK_KEY)

    first = await scheduler.tick()
    assert len(first) == 1
    job = await get_job_progress(db_pool, first[0])
    assert job is not None and job.kind == "scheduled"
    # Nothing stored: stocks_history_days back from the last closed session (07-08).
    assert (job.start.date(), job.end.date()) == (date(2024, 6, 28), date(2024, 7, 9))
    assert await built.finished(first[0]) == "done"
    assert await repo.last_stored_date(db_pool, us_symbol) == date(2024, 7, 8)
    assert await scheduler.tick() == []  # the last closed session is stored

    # After the close of 07-09: only that session is asked for.
    moment = datetime(2024, 7, 9, 20, 30, tzinfo=UTC).timestamp()
    await db_pool.execute(
        "UPDATE ingest_jobs SET created_at = created_at - interval '2 hours',"
        " finished_at = finished_at - interval '2 hours' WHERE symbol = $1",
        us_symbol,
    )
    second = await scheduler.tick()
    assert len(second) == 1
    job = await get_job_progress(db_pool, second[0])
    assert job is not None
    assert (job.start.date(), job.end.date()) == (date(2024, 7, 9), date(2024, 7, 10))
    assert await scheduler.tick() == []  # a recent scheduled job exists
    assert await built.finished(second[0]) == "done"
    assert await repo.last_stored_date(db_pool, us_symbol) == date(2024, 7, 9)
