"""Fixtures for ingest-weather's integration tests: the fake providers, an
isolated bus prefix per test, the real writer's consumers on it (in-process,
its own SQL: stores batch + rows, then publishes `WeatherStoredV1`) and a
builder of the ingester consuming on that bus."""

from __future__ import annotations

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
from ticktide_common.jobs import request_backfill
from ticktide_common.messages import (
    WeatherBackfillRequestedV1,
    WeatherObservationsV1,
    WeatherStoredV1,
)
from ticktide_common.settings import WeatherLocation
from ticktide_common.testing.fixtures import IsolatedBus, open_isolated_bus
from ticktide_common.testing.ingest import finished_job
from ticktide_common.topology import (
    INGEST_WEATHER_BACKFILLS,
    INGEST_WEATHER_STORED,
)
from ticktide_ingest_weather.client import provider_from_settings
from ticktide_ingest_weather.scheduler import Scheduler
from ticktide_ingest_weather.service import WeatherIngester
from ticktide_ingest_weather.settings import IngestWeatherSettings
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo, FakeOpenWeather
from ticktide_writer.testing import RunningWriter
from ticktide_writer.testing import writer as writer  # the fixture


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
    settings: IngestWeatherSettings,
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


@dataclass
class Pipeline:
    pool: asyncpg.Pool
    settings: IngestWeatherSettings
    ingester: WeatherIngester
    scheduler: Scheduler
    bus: Bus
    batches: list[WeatherObservationsV1]
    http: httpx.AsyncClient

    async def backfill(self, location: str, start: datetime, end: datetime) -> uuid.UUID:
        return await request_backfill(
            self.pool,
            self.bus,
            WeatherBackfillRequestedV1(
                job_id=uuid.uuid4(),
                location=location,
                start=start,
                end=end,
                requested_by="tests",
            ),
        )

    async def finished(self, job_id: uuid.UUID, timeout: float = 30.0) -> str:
        return (await finished_job(self.pool, job_id, timeout=timeout)).status

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
    writer: RunningWriter,
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
            db_pool,
            settings,
            ingester,
            scheduler,
            isolated_bus.bus,
            writer.received(WeatherObservationsV1),
            http,
        )
        built.append(pipeline)
        return pipeline

    yield make
    for pipeline in built:
        await pipeline.http.aclose()


@pytest.fixture
async def pipeline(make_pipeline: Callable[..., Awaitable[Pipeline]]) -> Pipeline:
    return await make_pipeline()
