"""Wiring of ingest-crypto: settings, the Binance client, pool, bus, the
consumers, the scheduler and the maintenance pass (finalize sweep, gap
refills), the health routes and the internal archive route. The lifespan
yields a typed `IngestState`; routes read it through the aliases of `deps`."""

from __future__ import annotations

from contextlib import AsyncExitStack
from functools import partial
from typing import TypeAlias

import httpx
from fastapi import FastAPI

from ticktide_common import ingest_service as ingest
from ticktide_common.logging import get_logger
from ticktide_common.messages import CandlesStoredV1, CryptoBackfillRequestedV1
from ticktide_common.topology import INGEST_CRYPTO_BACKFILLS, INGEST_CRYPTO_STORED
from ticktide_ingest_crypto import archive_upload
from ticktide_ingest_crypto.client import BinanceClient
from ticktide_ingest_crypto.scheduler import Scheduler
from ticktide_ingest_crypto.service import CryptoIngester
from ticktide_ingest_crypto.settings import IngestCryptoSettings, get_settings

__all__ = ["SERVICE_NAME", "IngestState", "create_app"]

SERVICE_NAME = "ingest-crypto"
log = get_logger(__name__)
# What this ingester consumes: its backfill commands, the writer's stored events.
QUEUES = ingest.IngestQueues(
    INGEST_CRYPTO_BACKFILLS, CryptoBackfillRequestedV1, INGEST_CRYPTO_STORED, CandlesStoredV1
)


IngestState: TypeAlias = ingest.IngestState[
    IngestCryptoSettings, httpx.AsyncClient, CryptoIngester, Scheduler
]
"""What the lifespan creates and yields (closed in reverse order on shutdown)."""


def create_app(settings: IngestCryptoSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = ingest.create_ingest_app(SERVICE_NAME, settings, partial(_start, settings))
    app.include_router(archive_upload.router)
    return app


async def _start(
    settings: IngestCryptoSettings, stack: AsyncExitStack, checks: ingest.Checks
) -> IngestState:
    http = ingest.open_http(stack, settings.binance_base_url, settings.binance_timeout_seconds)
    pool, bus = await ingest.open_pool_and_bus(stack, settings, SERVICE_NAME)
    client = BinanceClient.from_settings(settings, http)
    ingester = CryptoIngester(pool=pool, bus=bus, client=client, settings=settings)
    scheduler = Scheduler(pool=pool, bus=bus, ingester=ingester, settings=settings)
    loops = [
        ingest.Periodic(ingester.maintain, settings.crypto_finalize_sweep_seconds, "maintenance")
    ]
    if settings.crypto_scheduler_enabled:
        loops.append(ingest.Periodic(scheduler.tick, settings.crypto_schedule_seconds, "scheduler"))
    await ingest.start_consuming(stack, settings, SERVICE_NAME, checks, QUEUES, ingester, loops)
    log.info(
        "service.started",
        binance=settings.binance_base_url,
        scheduler=settings.crypto_scheduler_enabled,
    )
    return IngestState(
        settings=settings, pool=pool, bus=bus, http=http, ingester=ingester, scheduler=scheduler
    )
