"""A stocks backfill before `STOCKS_HISTORY_START` is refused by the ingester
itself (the gateway answers 422 first), even with the simulated fallback on and
no provider reachable: nothing is published, the job fails saying why."""

from __future__ import annotations

from datetime import date

from ticktide_common.jobs import get_job_progress
from ticktide_common.testing.processes import free_port


async def test_a_year_one_backfill_is_refused(make_pipeline, us_symbol: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    built = await make_pipeline(
        nasdaq_base_url=dead, nasdaq_nordic_base_url=dead, ticktide_simulated_fallback=True
    )
    job = await built.backfill(us_symbol, "NASDAQ", date(1, 1, 1), date(1, 2, 1))
    assert await built.finished(job) == "failed"
    progress = await get_job_progress(built.pool, job)
    assert progress is not None and progress.error is not None
    assert "before the stocks history" in progress.error
    assert "STOCKS_HISTORY_START" in progress.error
    assert built.published(job) == []
