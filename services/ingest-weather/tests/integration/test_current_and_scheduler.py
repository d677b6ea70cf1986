"""Current weather on every tick, and the scheduled history jobs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ticktide_common.settings import WeatherLocation
from ticktide_common.testing.processes import free_port, wait_until
from ticktide_ingest_weather.simulated import simulated_current
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo, FakeOpenWeather


async def _current_rows(pipeline: Any, location: str) -> list:  # type: ignore[type-arg]
    return await pipeline.pool.fetch(
        """SELECT datetime, temperature, humidity, pressure, wind_speed, description, source
           FROM weather_current WHERE location = $1 ORDER BY datetime""",
        location,
    )


async def _rows_reach(pipeline: Any, location: str, count: int) -> None:
    async def enough() -> bool:
        return len(await _current_rows(pipeline, location)) >= count

    await wait_until(enough, timeout=15, what=f"{count} current rows")


async def test_current_weather_is_published_every_tick(
    pipeline: Any, location: WeatherLocation, fake_meteo: FakeOpenMeteo
) -> None:
    first = datetime(2024, 6, 1, 12, 7, tzinfo=UTC)
    fake_meteo.set_now(first)
    assert await pipeline.scheduler.current_tick() == 1
    assert await pipeline.scheduler.current_tick() == 1  # same reading: stored once
    fake_meteo.set_now(first + timedelta(minutes=15))
    assert await pipeline.scheduler.current_tick() == 1
    await _rows_reach(pipeline, location.name, 2)
    rows = await _current_rows(pipeline, location.name)
    assert [row["datetime"] for row in rows] == [
        datetime(2024, 6, 1, 12, 0, tzinfo=UTC),
        datetime(2024, 6, 1, 12, 15, tzinfo=UTC),
    ]
    served = fake_meteo.current(location.latitude, location.longitude)
    assert rows[-1]["temperature"] == served.temperature
    assert rows[-1]["wind_speed"] == served.wind_speed
    assert rows[-1]["pressure"] == served.pressure
    assert rows[-1]["source"] == "open-meteo"
    assert len(pipeline.batches) == 3
    assert pipeline.batches[0].batch_id == pipeline.batches[1].batch_id
    assert all(b.kind == "current" and b.job_id is None for b in pipeline.batches)


async def test_current_weather_from_openweather(
    make_pipeline: Callable[..., Awaitable[Any]],
    location: WeatherLocation,
    fake_openweather: FakeOpenWeather,
) -> None:
    pipeline = await make_pipeline(openweather_api_key="right-key")
    fake_openweather.set_now(datetime(2024, 6, 1, 12, 7, tzinfo=UTC))
    (batch,) = await pipeline.ingester.publish_all_current()
    served = fake_openweather.current(location.latitude, location.longitude)
    (observation,) = batch.observations
    assert batch.source == "openweather"
    assert observation.t == served.t == datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    assert observation.temperature == served.kelvin - 273.15
    assert observation.description == served.description


async def test_current_weather_falls_back_to_simulated(
    make_pipeline: Callable[..., Awaitable[Any]], location: WeatherLocation
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    pipeline = await make_pipeline(open_meteo_base_url=nowhere, ticktide_simulated_fallback=True)
    (batch,) = await pipeline.ingester.publish_all_current()
    assert batch.source == "simulated"
    (observation,) = batch.observations
    assert observation == simulated_current(location, observation.t)
    await _rows_reach(pipeline, location.name, 1)


async def test_no_fallback_means_no_current_row(
    make_pipeline: Callable[..., Awaitable[Any]], location: WeatherLocation
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    pipeline = await make_pipeline(open_meteo_base_url=nowhere)
    assert await pipeline.ingester.publish_all_current() == []
    assert pipeline.batches == []


async def test_history_tick_requests_one_scheduled_job_per_location(
    make_pipeline: Callable[..., Awaitable[Any]], location: WeatherLocation
) -> None:
    pipeline = await make_pipeline(weather_history_days=2)
    (job_id,) = await pipeline.scheduler.history_tick()
    assert await pipeline.scheduler.history_tick() == [], "a recent job exists"
    assert await pipeline.finished(job_id) == "done"
    job = await pipeline.pool.fetchrow(
        "SELECT kind, domain, range_start, range_end FROM ingest_jobs WHERE id = $1", job_id
    )
    assert job["kind"] == "scheduled" and job["domain"] == "weather"
    assert job["range_end"] - job["range_start"] == timedelta(days=2)
    assert job["range_end"].minute == 0
