"""Wiring of ingest-weather: settings, pool, the provider client, bus, the
consumers (backfill commands, stored events), the finalize sweep, the two
scheduler loops and the health routes. The lifespan yields a typed
`IngestState`; routes read it through the `Annotated` aliases of `deps`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TypedDict

import asyncpg
import httpx
from fastapi import FastAPI

from ticktide_common.bus import Bus
from ticktide_common.health import ReadinessCheck, health_router
from ticktide_common.ingest_service import (
    Consumer,
    Periodic,
    open_bus,
    open_pool,
    start_consuming,
)
from ticktide_common.logging import get_logger
from ticktide_common.messages import WeatherBackfillRequestedV1, WeatherStoredV1
from ticktide_common.topology import INGEST_WEATHER_BACKFILLS, INGEST_WEATHER_STORED
from ticktide_ingest_weather import repository as repo
from ticktide_ingest_weather.client import provider_from_settings
from ticktide_ingest_weather.scheduler import Scheduler
from ticktide_ingest_weather.service import WeatherIngester
from ticktide_ingest_weather.settings import IngestWeatherSettings, get_settings

__all__ = ["SERVICE_NAME", "IngestState", "create_app"]

SERVICE_NAME = "ingest-weather"
log = get_logger(__name__)


class IngestState(TypedDict):
    """What the lifespan creates (closed in reverse order on shutdown)."""

    settings: IngestWeatherSettings
    pool: asyncpg.Pool
    bus: Bus
    http: httpx.AsyncClient
    ingester: WeatherIngester
    scheduler: Scheduler
    checks: dict[str, ReadinessCheck]


def create_app(settings: IngestWeatherSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    checks: dict[str, ReadinessCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[IngestState]:
        async with AsyncExitStack() as stack:
            pool = await open_pool(stack, settings, SERVICE_NAME)
            await repo.upsert_locations(pool, settings.weather_locations)
            http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
            stack.push_async_callback(http.aclose)
            bus = await open_bus(stack, settings, SERVICE_NAME)
            ingester = WeatherIngester(
                pool=pool,
                bus=bus,
                provider=provider_from_settings(settings, http),
                settings=settings,
            )
            scheduler = Scheduler(pool=pool, bus=bus, ingester=ingester, settings=settings)
            periodic = [
                Periodic(ingester.maintain, settings.ingest_finalize_sweep_seconds, "sweep")
            ]
            if settings.weather_scheduler_enabled:
                periodic += [
                    Periodic(scheduler.current_tick, settings.weather_current_seconds, "current"),
                    Periodic(scheduler.history_tick, settings.weather_history_seconds, "history"),
                ]
            await start_consuming(
                stack,
                settings=settings,
                service=SERVICE_NAME,
                pool=pool,
                bus=bus,
                consumers=[
                    Consumer(
                        INGEST_WEATHER_BACKFILLS,
                        WeatherBackfillRequestedV1,
                        ingester.handle_backfill,
                    ),
                    Consumer(INGEST_WEATHER_STORED, WeatherStoredV1, ingester.on_stored),
                ],
                periodic=periodic,
                checks=checks,
            )
            log.info(
                "service.started",
                provider=ingester.provider.source,
                locations=[location.name for location in settings.weather_locations],
                scheduler=settings.weather_scheduler_enabled,
            )
            yield IngestState(
                settings=settings,
                pool=pool,
                bus=bus,
                http=http,
                ingester=ingester,
                scheduler=scheduler,
                checks=checks,
            )

    app = FastAPI(
        title="Ticktide ingest-weather", version=settings.ticktide_version, lifespan=lifespan
    )
    app.include_router(health_router(SERVICE_NAME, settings.ticktide_version, lambda: checks))
    return app
