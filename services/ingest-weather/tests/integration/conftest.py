"""Fixtures for ingest-weather's integration tests: the fake providers, an
isolated bus prefix per test, a minimal stand-in for the writer (consumes the
published `WeatherObservationsV1`, stores batch + rows in one transaction, then
publishes `WeatherStoredV1`, as the writer service does) and a builder of the
ingester consuming on that bus."""

from __future__ import annotations

import json
import random
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import httpx
import pytest

from ticktide_common.bus import Bus
from ticktide_common.jobs import get_job_progress, request_weather_backfill
from ticktide_common.messages import (
    WeatherBackfillRequestedV1,
    WeatherObservationsV1,
    WeatherStoredV1,
)
from ticktide_common.settings import Settings, WeatherLocation
from ticktide_common.testing.fixtures import IsolatedBus, open_isolated_bus
from ticktide_common.testing.processes import wait_until
from ticktide_common.topology import (
    INGEST_WEATHER_BACKFILLS,
    INGEST_WEATHER_STORED,
    WRITER_WEATHER,
)
from ticktide_ingest_weather.client import provider_from_settings
from ticktide_ingest_weather.scheduler import Scheduler
from ticktide_ingest_weather.service import WeatherIngester
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo, FakeOpenWeather

_UPSERT = """
INSERT INTO {table} AS t (location, datetime, temperature, humidity, pressure, wind_speed,
                          description, source, weather_data)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
ON CONFLICT (location, datetime) DO UPDATE
    SET temperature = excluded.temperature, humidity = excluded.humidity,
        pressure = excluded.pressure, wind_speed = excluded.wind_speed,
        description = excluded.description, source = excluded.source,
        weather_data = excluded.weather_data, updated_at = now()
    WHERE NOT (excluded.source = 'simulated' AND t.source <> 'simulated')
"""


@pytest.fixture
def fake_meteo() -> Iterator[FakeOpenMeteo]:
    with FakeOpenMeteo() as server:
        yield server


@pytest.fixture
def fake_openweather() -> Iterator[FakeOpenWeather]:
    with FakeOpenWeather(api_key="right-key") as server:
        yield server


@pytest.fixture
def location() -> WeatherLocation:
    """A location no other test uses (the database is shared by the session)."""
    name = "Test " + "".join(random.choices(string.ascii_lowercase, k=10))
    return WeatherLocation(
        name, round(random.uniform(-60, 60), 4), round(random.uniform(-170, 170), 4)
    )


@pytest.fixture
async def isolated_bus(
    settings: Settings,
    fake_meteo: FakeOpenMeteo,
    fake_openweather: FakeOpenWeather,
    location: WeatherLocation,
) -> AsyncIterator[IsolatedBus]:
    """A bus on a prefix of its own, so consumers of other tests never compete."""
    async with open_isolated_bus(
        settings,
        "ingest-weather-tests",
        open_meteo_base_url=fake_meteo.url,
        open_meteo_archive_url=fake_meteo.url,
        openweather_base_url=fake_openweather.url,
        openweather_api_key="",
        http_backoff_seconds=0.01,
        http_max_attempts=2,
        http_timeout_seconds=5.0,
        ticktide_simulated_fallback=False,
        weather_locations=[location],
        weather_scheduler_enabled=False,
    ) as isolated:
        yield isolated


async def store_batch(pool: asyncpg.Pool, batch: WeatherObservationsV1) -> int:
    """What the writer does with one batch; returns rows written (0: duplicate)."""
    table = "weather_current" if batch.kind == "current" else "weather_historic"
    async with pool.acquire() as conn, conn.transaction():
        fresh = await conn.fetchval(
            """INSERT INTO ingest_batches (batch_id, job_id, candles) VALUES ($1, $2, $3)
               ON CONFLICT (batch_id) DO NOTHING RETURNING batch_id""",
            batch.batch_id,
            batch.job_id,
            len(batch.observations),
        )
        if fresh is None:
            return 0
        await conn.executemany(
            _UPSERT.format(table=table),
            [
                (
                    batch.location,
                    o.t,
                    o.temperature,
                    o.humidity,
                    o.pressure,
                    o.wind_speed,
                    o.description,
                    batch.source,
                    json.dumps(o.raw),
                )
                for o in batch.observations
            ],
        )
        return len(batch.observations)


@pytest.fixture
async def writer_stand_in(
    isolated_bus: IsolatedBus, db_pool: asyncpg.Pool
) -> list[WeatherObservationsV1]:
    """Consume the writer's queue on the isolated bus; returns the batches seen."""
    seen: list[WeatherObservationsV1] = []

    async def handle(batch: WeatherObservationsV1) -> None:
        rows = await store_batch(db_pool, batch)
        seen.append(batch)
        times = [o.t for o in batch.observations]
        await isolated_bus.bus.publish(
            WeatherStoredV1(
                batch_id=batch.batch_id,
                job_id=batch.job_id,
                location=batch.location,
                kind=batch.kind,
                source=batch.source,
                first_t=min(times, default=None),
                last_t=max(times, default=None),
                observations=len(batch.observations),
                rows_changed=rows,
            )
        )

    await isolated_bus.bus.consume(WRITER_WEATHER, WeatherObservationsV1, handle)
    return seen


@dataclass
class Pipeline:
    pool: asyncpg.Pool
    settings: Settings
    ingester: WeatherIngester
    scheduler: Scheduler
    bus: Bus
    batches: list[WeatherObservationsV1]
    http: httpx.AsyncClient

    async def backfill(self, location: str, start: datetime, end: datetime) -> uuid.UUID:
        return await request_weather_backfill(
            self.pool, self.bus, location=location, start=start, end=end, requested_by="tests"
        )

    async def finished(self, job_id: uuid.UUID, timeout: float = 30.0) -> str:
        async def done() -> bool:
            progress = await get_job_progress(self.pool, job_id)
            return progress is not None and progress.finished

        await wait_until(done, timeout=timeout, what=f"job {job_id} to finish")
        progress = await get_job_progress(self.pool, job_id)
        assert progress is not None
        return progress.status

    async def historic_rows(self, location: str) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            """SELECT datetime, temperature, humidity, pressure, wind_speed, description,
                      source, weather_data
               FROM weather_historic WHERE location = $1 ORDER BY datetime""",
            location,
        )


@pytest.fixture
async def make_pipeline(
    isolated_bus: IsolatedBus,
    db_pool: asyncpg.Pool,
    writer_stand_in: list[WeatherObservationsV1],
) -> AsyncIterator[Callable[..., Awaitable[Pipeline]]]:
    """Build the ingester consuming on the isolated bus, with setting overrides."""
    built: list[Pipeline] = []

    async def make(**overrides: object) -> Pipeline:
        settings = isolated_bus.settings.model_copy(update=overrides)
        http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
        ingester = WeatherIngester(
            pool=db_pool,
            bus=isolated_bus.bus,
            provider=provider_from_settings(settings, http),
            settings=settings,
        )
        scheduler = Scheduler(
            pool=db_pool, bus=isolated_bus.bus, ingester=ingester, settings=settings
        )
        await isolated_bus.bus.consume(
            INGEST_WEATHER_BACKFILLS, WeatherBackfillRequestedV1, ingester.handle_backfill
        )
        await isolated_bus.bus.consume(INGEST_WEATHER_STORED, WeatherStoredV1, ingester.on_stored)
        pipeline = Pipeline(
            db_pool, settings, ingester, scheduler, isolated_bus.bus, writer_stand_in, http
        )
        built.append(pipeline)
        return pipeline

    yield make
    for pipeline in built:
        await pipeline.http.aclose()


@pytest.fixture
async def pipeline(make_pipeline: Callable[..., Awaitable[Pipeline]]) -> Pipeline:
    return await make_pipeline()
