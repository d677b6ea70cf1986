"""A weather backfill before `WEATHER_HISTORY_START` is refused by the ingester
itself (the gateway answers 422 first), even with the simulated fallback on and
no provider reachable: nothing is published, the job fails saying why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ticktide_common.jobs import get_job_progress
from ticktide_common.settings import WeatherLocation
from ticktide_common.testing.processes import free_port


async def test_a_year_one_backfill_is_refused(
    make_pipeline: Any, location: WeatherLocation
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    built = await make_pipeline(
        open_meteo_base_url=dead,
        open_meteo_archive_url=dead,
        ticktide_simulated_fallback=True,
        weather_locations=[location],
    )
    job = await built.backfill(
        location.name, datetime(1, 1, 1, tzinfo=UTC), datetime(1, 2, 1, tzinfo=UTC)
    )
    assert await built.finished(job) == "failed"
    progress = await get_job_progress(built.pool, job)
    assert progress is not None and progress.error is not None
    assert "before the weather history" in progress.error
    assert "WEATHER_HISTORY_START" in progress.error
    assert not [b for b in built.batches if b.job_id == job]
