"""Wiring of ingest-stocks: settings, pool, the NASDAQ and Nasdaq Nordic
clients, bus, consumers of backfill commands and stored events, the maintenance
pass (finalize sweep, gap refills), the scheduler, and the health routes. The
lifespan yields a typed `IngestState`; routes read it through the `Annotated`
aliases of `deps`."""

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
from ticktide_common.messages import StockPricesStoredV1, StocksBackfillRequestedV1
from ticktide_common.topology import INGEST_STOCKS_BACKFILLS, INGEST_STOCKS_STORED
from ticktide_ingest_stocks import repository as repo
from ticktide_ingest_stocks.client import NasdaqClient, NordicClient
from ticktide_ingest_stocks.scheduler import Scheduler, configured_symbols
from ticktide_ingest_stocks.service import StocksIngester
from ticktide_ingest_stocks.settings import IngestStocksSettings, get_settings

__all__ = ["SERVICE_NAME", "IngestState", "create_app"]

SERVICE_NAME = "ingest-stocks"
log = get_logger(__name__)


class IngestState(TypedDict):
    """What the lifespan creates (closed in reverse order on shutdown)."""

    settings: IngestStocksSettings
    pool: asyncpg.Pool
    bus: Bus
    http: list[httpx.AsyncClient]
    ingester: StocksIngester
    scheduler: Scheduler
    checks: dict[str, ReadinessCheck]


def create_app(settings: IngestStocksSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    checks: dict[str, ReadinessCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[IngestState]:
        async with AsyncExitStack() as stack:
            pool = await open_pool(stack, settings, SERVICE_NAME)
            for symbol, exchange in configured_symbols(settings):
                await repo.ensure_stock(pool, symbol, exchange)
            http = [
                httpx.AsyncClient(base_url=url, timeout=settings.http_timeout_seconds)
                for url in (settings.nasdaq_base_url, settings.nasdaq_nordic_base_url)
            ]
            for client in http:
                stack.push_async_callback(client.aclose)
            bus = await open_bus(stack, settings, SERVICE_NAME)
            ingester = StocksIngester(
                pool=pool,
                bus=bus,
                nasdaq=NasdaqClient.from_settings(settings, http[0]),
                nordic=NordicClient.from_settings(settings, http[1]),
                settings=settings,
            )
            scheduler = Scheduler(pool=pool, bus=bus, ingester=ingester, settings=settings)
            periodic = [
                Periodic(ingester.maintain, settings.ingest_finalize_sweep_seconds, "maintenance")
            ]
            if settings.stocks_scheduler_enabled:
                periodic.append(
                    Periodic(scheduler.tick, settings.stocks_schedule_seconds, "scheduler")
                )
            await start_consuming(
                stack,
                settings=settings,
                service=SERVICE_NAME,
                pool=pool,
                bus=bus,
                consumers=[
                    Consumer(
                        INGEST_STOCKS_BACKFILLS, StocksBackfillRequestedV1, ingester.handle_backfill
                    ),
                    Consumer(INGEST_STOCKS_STORED, StockPricesStoredV1, ingester.on_stored),
                ],
                periodic=periodic,
                checks=checks,
            )
            log.info(
                "service.started",
                nasdaq=settings.nasdaq_base_url,
                nasdaq_nordic=settings.nasdaq_nordic_base_url,
                scheduler=settings.stocks_scheduler_enabled,
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
        title="Ticktide ingest-stocks", version=settings.ticktide_version, lifespan=lifespan
    )
    app.include_router(health_router(SERVICE_NAME, settings.ticktide_version, lambda: checks))
    return app
