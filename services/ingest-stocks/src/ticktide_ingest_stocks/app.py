"""Wiring of ingest-stocks: settings, pool, bus, the NASDAQ and Nasdaq Nordic
clients, consumers of backfill commands and stored events, the finalize sweep
(with gap refills), the scheduler, and the health routes."""

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
from ticktide_common.messages import StockPricesStoredV1, StocksBackfillRequestedV1
from ticktide_common.periodic import run_periodically, stop_tasks
from ticktide_common.settings import Settings, get_settings
from ticktide_common.topology import INGEST_STOCKS_BACKFILLS, INGEST_STOCKS_STORED, Topology
from ticktide_ingest_stocks import repository as repo
from ticktide_ingest_stocks.client import NasdaqClient, NordicClient
from ticktide_ingest_stocks.scheduler import Scheduler, configured_symbols
from ticktide_ingest_stocks.service import StocksIngest

__all__ = ["SERVICE_NAME", "IngestState", "create_app"]

SERVICE_NAME = "ingest-stocks"
log = get_logger(__name__)


@dataclass
class IngestState:
    """Everything the lifespan creates; closed in reverse order on shutdown."""

    pool: asyncpg.Pool
    bus: Bus
    http: list[httpx.AsyncClient]
    ingest: StocksIngest
    scheduler: Scheduler
    tasks: list[asyncio.Task[None]]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    holder: dict[str, IngestState] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await _start(settings)
        holder["state"] = state
        app.state.ingest = state
        heartbeat = start_heartbeat(state.bus, settings, SERVICE_NAME, checks)
        log.info(
            "service.started",
            nasdaq=settings.nasdaq_base_url,
            nasdaq_nordic=settings.nasdaq_nordic_base_url,
            scheduler=settings.stocks_scheduler_enabled,
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
        title="Ticktide ingest-stocks", version=settings.ticktide_version, lifespan=lifespan
    )
    app.include_router(health_router(SERVICE_NAME, settings.ticktide_version, checks))
    return app


async def _start(settings: Settings) -> IngestState:
    pool = await create_pool(
        settings.database_url, min_size=1, max_size=10, application_name=SERVICE_NAME
    )
    for symbol, exchange in configured_symbols(settings):
        await repo.ensure_stock(pool, symbol, exchange)
    topology = Topology(
        prefix=settings.ticktide_bus_prefix, default_delivery_limit=settings.bus_delivery_limit
    )
    bus = await Bus.connect(
        settings.amqp_url,
        topology,
        service=SERVICE_NAME,
        publish_timeout=settings.bus_publish_timeout_seconds,
    )
    us_http = httpx.AsyncClient(
        base_url=settings.nasdaq_base_url, timeout=settings.http_timeout_seconds
    )
    nordic_http = httpx.AsyncClient(
        base_url=settings.nasdaq_nordic_base_url, timeout=settings.http_timeout_seconds
    )
    ingest = StocksIngest(
        pool=pool,
        bus=bus,
        nasdaq=NasdaqClient.from_settings(settings, us_http),
        nordic=NordicClient.from_settings(settings, nordic_http),
        settings=settings,
    )
    scheduler = Scheduler(pool=pool, bus=bus, ingest=ingest, settings=settings)
    await bus.consume(
        INGEST_STOCKS_BACKFILLS,
        StocksBackfillRequestedV1,
        ingest.handle,
        prefetch=settings.bus_prefetch,
    )
    await bus.consume(
        INGEST_STOCKS_STORED, StockPricesStoredV1, ingest.on_stored, prefetch=settings.bus_prefetch
    )
    tasks = [
        asyncio.create_task(
            run_periodically(ingest.maintain, settings.ingest_finalize_sweep_seconds, "maintenance")
        )
    ]
    if settings.stocks_scheduler_enabled:
        tasks.append(
            asyncio.create_task(
                run_periodically(scheduler.tick, settings.stocks_schedule_seconds, "scheduler")
            )
        )
    return IngestState(
        pool=pool,
        bus=bus,
        http=[us_http, nordic_http],
        ingest=ingest,
        scheduler=scheduler,
        tasks=tasks,
    )


async def _stop(state: IngestState) -> None:
    await stop_tasks(state.tasks)
    await state.bus.close()
    for http in state.http:
        await http.aclose()
    await state.pool.close()
