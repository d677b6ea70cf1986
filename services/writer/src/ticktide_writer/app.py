"""Wiring only: settings, pool, bus, the candle writer, the activity writer,
the stock and weather writers and the health routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI

from ticktide_common.bus import Bus
from ticktide_common.db import create_pool
from ticktide_common.faults import CommitFault
from ticktide_common.health import ReadinessCheck, bus_check, health_router, postgres_check
from ticktide_common.heartbeat import start_heartbeat
from ticktide_common.logging import get_logger
from ticktide_common.messages import (
    CandleBatchV1,
    CandlesStoredV1,
    StockPricesV1,
    UserActivityV1,
    WeatherObservationsV1,
)
from ticktide_common.settings import Settings, get_settings
from ticktide_common.topology import (
    WRITER_ACTIVITY,
    WRITER_CANDLES,
    WRITER_STOCKS,
    WRITER_WEATHER,
    Topology,
)
from ticktide_writer.activity_writer import ActivityWriter
from ticktide_writer.candle_writer import CandleWriter
from ticktide_writer.repository import WriterRepository
from ticktide_writer.stock_writer import StockWriter
from ticktide_writer.stocks_repository import StocksRepository
from ticktide_writer.weather_repository import WeatherRepository
from ticktide_writer.weather_writer import WeatherWriter

__all__ = ["create_app", "WriterState", "SERVICE"]

SERVICE = "writer"
# Stock and weather messages are few and each takes a pool connection while it
# is written: a small prefetch leaves the pool to the candle group commit.
SERIES_PREFETCH = 4
log = get_logger(__name__)


@dataclass
class WriterState:
    pool: asyncpg.Pool
    bus: Bus
    writer: CandleWriter
    activity: ActivityWriter
    stocks: StockWriter
    weather: WeatherWriter


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    state: dict[str, WriterState] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(
            settings.database_url, min_size=1, max_size=4, application_name=f"ticktide-{SERVICE}"
        )
        topology = Topology(
            prefix=settings.ticktide_bus_prefix, default_delivery_limit=settings.bus_delivery_limit
        )
        bus = await Bus.connect(
            settings.amqp_url,
            topology,
            service=SERVICE,
            publish_timeout=settings.bus_publish_timeout_seconds,
        )

        async def publish_stored(event: CandlesStoredV1) -> None:
            await bus.publish(event)

        fault = CommitFault.from_settings(settings)
        writer = CandleWriter(
            WriterRepository(pool),
            publish_stored,
            max_group_candles=settings.writer_group_max_candles,
            max_group_wait=settings.writer_group_max_wait_ms / 1000,
            fault=fault,
        )
        writer.start()
        await bus.consume(
            WRITER_CANDLES, CandleBatchV1, writer.handle, prefetch=settings.writer_prefetch
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
        state["current"] = app.state.writer = WriterState(
            pool, bus, writer, activity, stocks, weather
        )
        heartbeat = start_heartbeat(bus, settings, SERVICE, checks)
        log.info(
            "writer.started",
            queue=topology.queue_name(WRITER_CANDLES),
            prefetch=settings.writer_prefetch,
        )
        try:
            yield
        finally:
            await heartbeat.stop()
            await writer.stop()
            await activity.stop()
            await stocks.stop()
            await weather.stop()
            await bus.close()
            await pool.close()
            state.pop("current", None)

    def checks() -> dict[str, ReadinessCheck]:
        current = state.get("current")
        if current is None:
            return {}
        return {"postgres": postgres_check(current.pool), "rabbitmq": bus_check(current.bus)}

    app = FastAPI(
        title="Ticktide writer",
        version=settings.ticktide_version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(health_router(SERVICE, settings.ticktide_version, checks))
    return app
