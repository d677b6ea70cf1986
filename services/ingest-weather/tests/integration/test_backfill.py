"""History backfills through the bus against the fake providers and the real
writer: rows equal what the fake served, after normalisation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ticktide_common.jobs import get_job_progress
from ticktide_common.settings import WeatherLocation
from ticktide_common.testing.processes import free_port
from ticktide_ingest_weather.simulated import simulated_hours
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo, FakeOpenWeather

JAN = datetime(2024, 1, 1, tzinfo=UTC)
FEB = datetime(2024, 2, 1, tzinfo=UTC)


async def test_a_month_is_744_hourly_rows_equal_to_the_served_ones(
    pipeline: Any, location: WeatherLocation, fake_meteo: FakeOpenMeteo
) -> None:
    job_id = await pipeline.backfill(location.name, JAN, FEB)
    assert await pipeline.finished(job_id) == "done"
    rows = await pipeline.historic_rows(location.name)
    served = fake_meteo.hourly(location.latitude, location.longitude, JAN, FEB)
    assert len(rows) == len(served) == 744
    for row, hour in zip(rows, served, strict=True):
        assert row["datetime"] == hour.t
        assert row["temperature"] == hour.temperature
        assert row["humidity"] == hour.humidity
        assert row["pressure"] == hour.pressure
        assert row["wind_speed"] == hour.wind_speed
        assert row["description"] == hour.description
        assert row["source"] == "open-meteo"
    assert '"units"' in rows[0]["weather_data"]
    (request,) = fake_meteo.requests("/v1/archive")
    assert request.params["start_date"] == "2024-01-01"
    assert request.params["end_date"] == "2024-01-31"
    assert request.params["wind_speed_unit"] == "ms"
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None and progress.batches_stored == 1
    assert progress.candles_stored == 744


async def test_overlapping_backfills_store_nothing_twice(
    pipeline: Any, location: WeatherLocation
) -> None:
    first = await pipeline.backfill(location.name, JAN, JAN + timedelta(days=10))
    second = await pipeline.backfill(
        location.name, JAN + timedelta(days=5, hours=7), JAN + timedelta(days=40)
    )
    assert await pipeline.finished(first) == "done"
    assert await pipeline.finished(second) == "done"
    rows = await pipeline.historic_rows(location.name)
    times = [row["datetime"] for row in rows]
    assert len(times) == len(set(times)) == 40 * 24
    assert times[0] == JAN and times[-1] == JAN + timedelta(days=40) - timedelta(hours=1)


async def test_hours_are_aligned_and_lagged_hours_skipped(
    pipeline: Any, location: WeatherLocation, fake_meteo: FakeOpenMeteo
) -> None:
    now = datetime.now(UTC)
    start = now - timedelta(days=7, minutes=10)
    job_id = await pipeline.backfill(location.name, start, now)
    assert await pipeline.finished(job_id) == "done"
    rows = await pipeline.historic_rows(location.name)
    cutoff = fake_meteo.archive_cutoff()
    assert rows, "the hours before the archive's lag are stored"
    assert rows[0]["datetime"] > start and rows[0]["datetime"].minute == 0
    assert rows[-1]["datetime"] == cutoff - timedelta(hours=1)


async def test_openweather_with_a_key_stores_kelvin_minus_273_15(
    make_pipeline: Callable[..., Awaitable[Any]],
    location: WeatherLocation,
    fake_openweather: FakeOpenWeather,
) -> None:
    pipeline = await make_pipeline(openweather_api_key="right-key")
    start, end = JAN, JAN + timedelta(days=1)
    job_id = await pipeline.backfill(location.name, start, end)
    assert await pipeline.finished(job_id) == "done"
    rows = await pipeline.historic_rows(location.name)
    served = fake_openweather.hourly(location.latitude, location.longitude, start, end)
    assert len(rows) == len(served) == 24
    for row, hour in zip(rows, served, strict=True):
        assert row["datetime"] == hour.t
        assert row["temperature"] == hour.kelvin - 273.15
        assert row["humidity"] == hour.humidity
        assert row["pressure"] == hour.pressure
        assert row["wind_speed"] == hour.wind_speed
        assert row["description"] == hour.description
        assert row["source"] == "openweather"
    assert len(fake_openweather.requests("/data/3.0/onecall/timemachine")) == 24


async def test_wrong_openweather_key_fails_the_job_with_the_reason(
    make_pipeline: Callable[..., Awaitable[Any]],
    location: WeatherLocation,
) -> None:
    pipeline = await make_pipeline(openweather_api_key="wrong-key")
    job_id = await pipeline.backfill(location.name, JAN, JAN + timedelta(hours=3))
    assert await pipeline.finished(job_id) == "failed"
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None and progress.error is not None
    assert "401" in progress.error and "Invalid API key" in progress.error
    assert pipeline.batches == []


async def test_error_body_fails_the_job_and_publishes_nothing(
    pipeline: Any, location: WeatherLocation, fake_meteo: FakeOpenMeteo
) -> None:
    fake_meteo.error_next(message="Parameter 'start_date' is out of allowed range")
    job_id = await pipeline.backfill(location.name, JAN, FEB)
    assert await pipeline.finished(job_id) == "failed"
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None
    assert progress.error == (
        f"Open-Meteo rejected {location.name} 2024-01-01..2024-01-31 (400): "
        "Parameter 'start_date' is out of allowed range"
    )
    await asyncio.sleep(0.2)
    assert pipeline.batches == []
    assert await pipeline.historic_rows(location.name) == []
    assert len(fake_meteo.requests()) == 1, "a rejection is not retried"


async def test_a_5xx_is_retried(
    pipeline: Any, location: WeatherLocation, fake_meteo: FakeOpenMeteo
) -> None:
    fake_meteo.fail_next(503)
    job_id = await pipeline.backfill(location.name, JAN, JAN + timedelta(days=2))
    assert await pipeline.finished(job_id) == "done"
    assert [r.status for r in fake_meteo.requests("/v1/archive")] == [503, 200]
    assert len(await pipeline.historic_rows(location.name)) == 48


async def test_an_empty_answer_is_retried_then_reported(
    make_pipeline: Callable[..., Awaitable[Any]],
    location: WeatherLocation,
    fake_meteo: FakeOpenMeteo,
) -> None:
    pipeline = await make_pipeline(ingest_fetch_max_attempts=1)
    fake_meteo.empty_next()
    job_id = await pipeline.backfill(location.name, JAN, JAN + timedelta(days=1))
    assert await pipeline.finished(job_id) == "done"
    assert len(await pipeline.historic_rows(location.name)) == 24

    fake_meteo.empty_next(times=2)  # every attempt of the next request (http_max_attempts=2)
    job_id = await pipeline.backfill(location.name, FEB, FEB + timedelta(days=1))
    assert await pipeline.finished(job_id) == "failed"
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None and progress.error is not None
    assert "answered empty" in progress.error


async def test_unreachable_provider_falls_back_to_simulated_rows(
    make_pipeline: Callable[..., Awaitable[Any]], location: WeatherLocation
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    pipeline = await make_pipeline(
        open_meteo_base_url=nowhere,
        open_meteo_archive_url=nowhere,
        ticktide_simulated_fallback=True,
    )
    end = JAN + timedelta(days=40)
    job_id = await pipeline.backfill(location.name, JAN, end)
    assert await pipeline.finished(job_id) == "done"
    rows = await pipeline.historic_rows(location.name)
    expected = simulated_hours(location, JAN, end)
    assert len(rows) == len(expected) == 960
    assert {row["source"] for row in rows} == {"simulated"}
    assert [row["temperature"] for row in rows] == [o.temperature for o in expected]
    assert '"simulated": true' in rows[0]["weather_data"]
    assert {b.source for b in pipeline.batches} == {"simulated"}
    assert len(pipeline.batches) == 2  # 744 + 216 hours


async def test_no_fallback_after_a_rejection(
    make_pipeline: Callable[..., Awaitable[Any]],
    location: WeatherLocation,
    fake_meteo: FakeOpenMeteo,
) -> None:
    pipeline = await make_pipeline(ticktide_simulated_fallback=True)
    fake_meteo.error_next()
    job_id = await pipeline.backfill(location.name, JAN, JAN + timedelta(days=1))
    assert await pipeline.finished(job_id) == "failed"
    await asyncio.sleep(0.2)
    assert pipeline.batches == []


async def test_an_unknown_location_fails_the_job(pipeline: Any) -> None:
    job_id = await pipeline.backfill("Nowhere Land", JAN, JAN + timedelta(days=1))
    assert await pipeline.finished(job_id) == "failed"
    progress = await get_job_progress(pipeline.pool, job_id)
    assert progress is not None and progress.error == "unknown weather location 'Nowhere Land'"
