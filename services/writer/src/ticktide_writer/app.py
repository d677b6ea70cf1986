"""Wiring only: settings, pool, bus, the candle writer, the activity writer,
the stock and weather writers and the health routes.

`start_writers` (the four consumers on a bus, over a pool) and `Writers.stop`
are what the lifespan calls; `ticktide_writer.testing` runs the same writer
in-process for the ingesters' tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TypedDict

import asyncpg
from fastapi import FastAPI

from ticktide_common.bus import Bus
from ticktide_common.db import create_pool
from ticktide_common.faults import CommitFault
from ticktide_common.health import ReadinessCheck, bus_check, health_router, postgres_check
from ticktide_common.heartbeat import start_heartbeat
from ticktide_common.logging import get_logger
from ticktide_common.messages import (
    CandlesStoredV1,
    StockPricesV1,
    UserActivityV1,
    WeatherObservationsV1,
)
from ticktide_common.topology import (
    WRITER_ACTIVITY,
    WRITER_CANDLES,
    WRITER_STOCKS,
    WRITER_WEATHER,
)
from ticktide_writer.activity_writer import ActivityWriter
from ticktide_writer.candle_batches import decode_candle_batch
from ticktide_writer.candle_writer import CandleWriter
from ticktide_writer.repository import WriterRepository
from ticktide_writer.settings import WriterSettings, get_settings
from ticktide_writer.stock_writer import StockWriter
from ticktide_writer.stocks_repository import StocksRepository
from ticktide_writer.weather_repository import WeatherRepository
from ticktide_writer.weather_writer import WeatherWriter

__all__ = [
    "create_app",
    "connect_bus",
    "start_writers",
    "Writers",
    "WriterState",
    "SERVICE",
]

SERVICE = "writer"
# Stock and weather messages are few and each takes a pool connection while it
# is written: a small prefetch leaves the pool to the candle group commit.
SERIES_PREFETCH = 4
log = get_logger(__name__)


@dataclass
class Writers:
    """The writer's four consumers, started on one bus over one pool."""

    candles: CandleWriter
    activity: ActivityWriter
    stocks: StockWriter
    weather: WeatherWriter

    async def stop(self) -> None:
        await self.candles.stop()
        await self.activity.stop()
        await self.stocks.stop()
        await self.weather.stop()


class WriterState(TypedDict):
    settings: WriterSettings
    pool: asyncpg.Pool
    bus: Bus
    writers: Writers


async def connect_bus(settings: WriterSettings) -> Bus:
    """The writer's bus on `settings`' prefix (its queues declared on connect)."""
    return await Bus.connect_with(settings, service=SERVICE)


async def start_writers(pool: asyncpg.Pool, bus: Bus, settings: WriterSettings) -> Writers:
    """The candle, activity, stock and weather writers, started and consuming
    their queues on `bus`; `Writers.stop` flushes and stops them."""

    async def publish_stored(event: CandlesStoredV1) -> None:
        await bus.publish(event)

    fault = CommitFault.from_settings(settings)
    candles = CandleWriter(
        WriterRepository(pool),
        publish_stored,
        max_group_candles=settings.writer_group_max_candles,
        max_group_wait=settings.writer_group_max_wait_ms / 1000,
        fault=fault,
    )
    candles.start()
    await bus.consume_decoded(
        WRITER_CANDLES, decode_candle_batch, candles.handle, prefetch=settings.writer_prefetch
    )
    activity = ActivityWriter(WriterRepository(pool))
    activity.start()
    await bus.consume(
        WRITER_ACTIVITY, UserActivityV1, activity.handle, prefetch=settings.writer_prefetch
    )
    stocks = StockWriter(StocksRepository(pool), bus.publish, fault=fault)
    await bus.consume(WRITER_STOCKS, StockPricesV1, stocks.handle, prefetch=SERIES_PREFETCH)
    weather = WeatherWriter(WeatherRepository(pool), bus.publish, fault=fault)
    await bus.consume(
        WRITER_WEATHER, WeatherObservationsV1, weather.handle, prefetch=SERIES_PREFETCH
    )
    return Writers(candles, activity, stocks, weather)


def create_app(settings: WriterSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    checks: dict[str, ReadinessCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[WriterState]:
        async with AsyncExitStack() as stack:
            pool = await create_pool(
                settings.database_url,
                min_size=1,
                max_size=4,
                application_name=f"ticktide-{SERVICE}",
            )
            stack.push_async_callback(pool.close)
            bus = await connect_bus(settings)
            stack.push_async_callback(bus.close)
            writers = await start_writers(pool, bus, settings)
            stack.push_async_callback(writers.stop)  # runs before bus.close
            checks.update(postgres=postgres_check(pool), rabbitmq=bus_check(bus))
            stack.callback(checks.clear)
            heartbeat = start_heartbeat(bus, settings, SERVICE, lambda: checks)
            stack.push_async_callback(heartbeat.stop)  # runs before the writers stop
            log.info(
                "writer.started",
                queue=bus.topology.queue_name(WRITER_CANDLES),
                prefetch=settings.writer_prefetch,
            )
            yield WriterState(settings=settings, pool=pool, bus=bus, writers=writers)
            log.info("writer.stopping")

    app = FastAPI(
        title="Ticktide writer",
        version=settings.ticktide_version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(health_router(SERVICE, settings.ticktide_version, lambda: checks))
    return app
