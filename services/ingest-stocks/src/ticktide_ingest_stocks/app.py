"""Wiring of ingest-stocks: settings, the NASDAQ and Nasdaq Nordic clients,
pool (with the configured symbols' rows), bus, consumers of backfill commands
and stored events, the maintenance pass (finalize sweep, gap refills), the
scheduler, and the health routes. The lifespan yields a typed `IngestState`;
routes read it through the aliases of `deps`."""

from __future__ import annotations

from contextlib import AsyncExitStack
from functools import partial
from typing import TypeAlias

import httpx
from fastapi import FastAPI

from ticktide_common import ingest_service as ingest
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
# What this ingester consumes: its backfill commands, the writer's stored events.
QUEUES = ingest.IngestQueues(
    INGEST_STOCKS_BACKFILLS, StocksBackfillRequestedV1, INGEST_STOCKS_STORED, StockPricesStoredV1
)


IngestState: TypeAlias = ingest.IngestState[
    IngestStocksSettings, list[httpx.AsyncClient], StocksIngester, Scheduler
]
"""What the lifespan creates and yields (closed in reverse order on shutdown)."""


def create_app(settings: IngestStocksSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return ingest.create_ingest_app(SERVICE_NAME, settings, partial(_start, settings))


async def _start(
    settings: IngestStocksSettings, stack: AsyncExitStack, checks: ingest.Checks
) -> IngestState:
    urls = [settings.nasdaq_base_url, settings.nasdaq_nordic_base_url]
    http = [ingest.open_http(stack, url, settings.http_timeout_seconds) for url in urls]
    pool, bus = await ingest.open_pool_and_bus(stack, settings, SERVICE_NAME)
    for symbol, exchange in configured_symbols(settings):
        await repo.ensure_stock(pool, symbol, exchange)
    nasdaq = NasdaqClient.from_settings(settings, http[0])
    nordic = NordicClient.from_settings(settings, http[1])
    ingester = StocksIngester(pool=pool, bus=bus, nasdaq=nasdaq, nordic=nordic, settings=settings)
    scheduler = Scheduler(pool=pool, bus=bus, ingester=ingester, settings=settings)
    loops = [
        ingest.Periodic(ingester.maintain, settings.ingest_finalize_sweep_seconds, "maintenance")
    ]
    if settings.stocks_scheduler_enabled:
        loops.append(ingest.Periodic(scheduler.tick, settings.stocks_schedule_seconds, "scheduler"))
    await ingest.start_consuming(stack, settings, SERVICE_NAME, checks, QUEUES, ingester, loops)
    log.info(
        "service.started",
        nasdaq=urls[0],
        nasdaq_nordic=urls[1],
        scheduler=settings.stocks_scheduler_enabled,
    )
    return IngestState(
        settings=settings, pool=pool, bus=bus, http=http, ingester=ingester, scheduler=scheduler
    )
