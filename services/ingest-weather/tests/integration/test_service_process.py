"""`python -m ticktide_ingest_weather` as a real subprocess: health and
readiness, configured locations upserted, current weather on its ticks, a
scheduled history job and a requested backfill through the bus to done
(the real writer in-process in the test), clean stop."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from ticktide_common.jobs import request_backfill
from ticktide_common.messages import WeatherBackfillRequestedV1
from ticktide_common.settings import WeatherLocation
from ticktide_common.testing.ingest import assert_serving, finished_job
from ticktide_common.testing.processes import ServiceProcess, free_port, wait_until
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo


async def test_service_ingests_current_and_history(
    isolated_bus: Any,
    writer: Any,
    fake_meteo: FakeOpenMeteo,
    db_pool: asyncpg.Pool,
    service_env: dict[str, str],
    log_dir: Path,
    location: WeatherLocation,
) -> None:
    port = free_port()
    env = {
        **service_env,
        "TICKTIDE_BUS_PREFIX": isolated_bus.settings.ticktide_bus_prefix,
        "OPEN_METEO_BASE_URL": fake_meteo.url,
        "OPEN_METEO_ARCHIVE_URL": fake_meteo.url,
        "INGEST_WEATHER_PORT": str(port),
        "WEATHER_LOCATIONS": f"{location.name}:{location.latitude}:{location.longitude}",
        "WEATHER_SCHEDULER_ENABLED": "1",
        "WEATHER_CURRENT_SECONDS": "0.5",
        "WEATHER_HISTORY_SECONDS": "3600",
        "WEATHER_HISTORY_DAYS": "8",
        "INGEST_FINALIZE_SWEEP_SECONDS": "0.5",
    }
    service = await ServiceProcess("ticktide_ingest_weather", env, port, log_dir).start()
    try:
        await assert_serving(service, "ingest-weather")

        stored = await db_pool.fetchrow(
            "SELECT latitude, longitude FROM weather_locations WHERE name = $1", location.name
        )
        assert stored is not None and stored["latitude"] == location.latitude

        async def current_stored() -> bool:
            return bool(
                await db_pool.fetchval(
                    "SELECT count(*) FROM weather_current WHERE location = $1", location.name
                )
            )

        await wait_until(current_stored, timeout=20, what="a current row")

        async def scheduled_done() -> bool:
            return bool(
                await db_pool.fetchval(
                    """SELECT count(*) FROM ingest_jobs WHERE symbol = $1
                       AND kind = 'scheduled' AND status = 'done'""",
                    location.name,
                )
            )

        await wait_until(scheduled_done, timeout=30, what="the scheduled history job")

        start = datetime(2023, 3, 1, tzinfo=UTC)
        job_id = await request_backfill(
            db_pool,
            isolated_bus.bus,
            WeatherBackfillRequestedV1(
                job_id=uuid.uuid4(),
                location=location.name,
                start=start,
                end=start + timedelta(days=3),
                requested_by="tests",
            ),
        )

        progress = await finished_job(db_pool, job_id, timeout=30, what="the backfill")
        assert progress.status == "done", service.log_tail()
        assert progress.candles_stored == 72
    finally:
        service.stop()
    assert "Application shutdown complete" in service.log_tail()
