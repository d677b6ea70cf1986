"""Wiring of ingest-weather: settings, the provider client, pool (with the
configured locations), bus, the consumers (backfill commands, stored events),
the finalize sweep, the two scheduler loops and the health routes. The
lifespan yields a typed `IngestState`; routes read it through the aliases of
`deps`."""

from __future__ import annotations

from contextlib import AsyncExitStack
from functools import partial
from typing import TypeAlias

import httpx
from fastapi import FastAPI

from ticktide_common import ingest_service as ingest
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
# What this ingester consumes: its backfill commands, the writer's stored events.
QUEUES = ingest.IngestQueues(
    INGEST_WEATHER_BACKFILLS, WeatherBackfillRequestedV1, INGEST_WEATHER_STORED, WeatherStoredV1
)


IngestState: TypeAlias = ingest.IngestState[
    IngestWeatherSettings, httpx.AsyncClient, WeatherIngester, Scheduler
]
"""What the lifespan creates and yields (closed in reverse order on shutdown)."""


def create_app(settings: IngestWeatherSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return ingest.create_ingest_app(SERVICE_NAME, settings, partial(_start, settings))


async def _start(
    settings: IngestWeatherSettings, stack: AsyncExitStack, checks: ingest.Checks
) -> IngestState:
    http = ingest.open_http(stack, "", settings.http_timeout_seconds)
    pool, bus = await ingest.open_pool_and_bus(stack, settings, SERVICE_NAME)
    await repo.upsert_locations(pool, settings.weather_locations)
    provider = provider_from_settings(settings, http)
    ingester = WeatherIngester(pool=pool, bus=bus, provider=provider, settings=settings)
    scheduler = Scheduler(pool=pool, bus=bus, ingester=ingester, settings=settings)
    loops = [ingest.Periodic(ingester.maintain, settings.ingest_finalize_sweep_seconds, "sweep")]
    if settings.weather_scheduler_enabled:
        loops += [
            ingest.Periodic(scheduler.current_tick, settings.weather_current_seconds, "current"),
            ingest.Periodic(scheduler.history_tick, settings.weather_history_seconds, "history"),
        ]
    await ingest.start_consuming(stack, settings, SERVICE_NAME, checks, QUEUES, ingester, loops)
    locations = [location.name for location in settings.weather_locations]
    log.info(
        "service.started",
        provider=provider.source,
        locations=locations,
        scheduler=settings.weather_scheduler_enabled,
    )
    return IngestState(
        settings=settings, pool=pool, bus=bus, http=http, ingester=ingester, scheduler=scheduler
    )
