"""Wiring of ingest-weather: settings, pool, bus, the provider client, the
consumers (backfill commands, stored events), the finalize sweep, the two
scheduler loops and the health routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx
from fastapi import FastAPI

from ticktide_common.bus import Bus
from ticktide_common.db import create_pool
from ticktide_common.health import ReadinessCheck, bus_check, health_router, postgres_check
from ticktide_common.heartbeat import start_heartbeat
from ticktide_common.logging import get_logger
from ticktide_common.messages import WeatherBackfillRequestedV1, WeatherStoredV1
from ticktide_common.periodic import run_periodically, stop_tasks
from ticktide_common.settings import Settings, get_settings
from ticktide_common.topology import INGEST_WEATHER_BACKFILLS, INGEST_WEATHER_STORED, Topology
from ticktide_ingest_weather import repository as repo
from ticktide_ingest_weather.client import provider_from_settings
from ticktide_ingest_weather.scheduler import WeatherScheduler
from ticktide_ingest_weather.service import WeatherIngester

__all__ = ["SERVICE_NAME", "IngestWeatherState", "create_app"]

SERVICE_NAME = "ingest-weather"
log = get_logger(__name__)


@dataclass
class IngestWeatherState:
    """Everything the lifespan creates; closed in reverse order on shutdown."""

    pool: asyncpg.Pool
    bus: Bus
    http: httpx.AsyncClient
    ingester: WeatherIngester
    scheduler: WeatherScheduler
    tasks: list[asyncio.Task[None]]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    holder: dict[str, IngestWeatherState] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await _start(settings)
        holder["state"] = state
        app.state.ingest = state
        heartbeat = start_heartbeat(state.bus, settings, SERVICE_NAME, checks)
        log.info(
            "service.started",
            provider=state.ingester.provider.source,
            locations=[location.name for location in settings.weather_locations],
            scheduler=settings.weather_scheduler_enabled,
        )
        try:
            yield
        finally:
            await heartbeat.stop()
            await _stop(state)

    def checks() -> Mapping[str, ReadinessCheck]:
        state = holder.get("state")
        if state is None:
            return {}
        return {"postgres": postgres_check(state.pool), "rabbitmq": bus_check(state.bus)}

    app = FastAPI(
        title="Ticktide ingest-weather", version=settings.ticktide_version, lifespan=lifespan
    )
    app.include_router(health_router(SERVICE_NAME, settings.ticktide_version, checks))
    return app


async def _start(settings: Settings) -> IngestWeatherState:
    pool = await create_pool(
        settings.database_url, min_size=1, max_size=10, application_name=SERVICE_NAME
    )
    await repo.upsert_locations(pool, settings.weather_locations)
    topology = Topology(
        prefix=settings.ticktide_bus_prefix, default_delivery_limit=settings.bus_delivery_limit
    )
    bus = await Bus.connect(
        settings.amqp_url,
        topology,
        service=SERVICE_NAME,
        publish_timeout=settings.bus_publish_timeout_seconds,
    )
    http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    ingester = WeatherIngester(
        pool=pool, bus=bus, provider=provider_from_settings(settings, http), settings=settings
    )
    scheduler = WeatherScheduler(pool=pool, bus=bus, ingester=ingester, settings=settings)
    await bus.consume(
        INGEST_WEATHER_BACKFILLS,
        WeatherBackfillRequestedV1,
        ingester.handle_backfill,
        prefetch=settings.bus_prefetch,
    )
    await bus.consume(
        INGEST_WEATHER_STORED, WeatherStoredV1, ingester.on_stored, prefetch=settings.bus_prefetch
    )
    tasks = [
        asyncio.create_task(
            run_periodically(
                ingester.completer.sweep, settings.ingest_finalize_sweep_seconds, "sweep"
            )
        )
    ]
    if settings.weather_scheduler_enabled:
        tasks += [
            asyncio.create_task(
                run_periodically(
                    scheduler.current_tick, settings.weather_current_seconds, "current"
                )
            ),
            asyncio.create_task(
                run_periodically(
                    scheduler.history_tick, settings.weather_history_seconds, "history"
                )
            ),
        ]
    return IngestWeatherState(
        pool=pool, bus=bus, http=http, ingester=ingester, scheduler=scheduler, tasks=tasks
    )


async def _stop(state: IngestWeatherState) -> None:
    await stop_tasks(state.tasks)
    await state.bus.close()
    await state.http.aclose()
    await state.pool.close()
