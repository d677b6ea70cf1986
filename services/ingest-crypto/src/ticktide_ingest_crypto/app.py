"""Wiring of ingest-crypto: settings, pool, Binance client, bus, consumers, the
scheduler and the maintenance pass (finalize sweep, gap refills), the health
routes. The lifespan yields a typed `IngestState`; routes read it through the
`Annotated` aliases of `deps`."""

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


class IngestState(TypedDict):
    """What the lifespan creates (closed in reverse order on shutdown)."""

    settings: IngestCryptoSettings
    pool: asyncpg.Pool
    bus: Bus
    http: httpx.AsyncClient
    ingester: CryptoIngester
    scheduler: Scheduler
    checks: dict[str, ReadinessCheck]


def create_app(settings: IngestCryptoSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    checks: dict[str, ReadinessCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[IngestState]:
        async with AsyncExitStack() as stack:
            pool = await open_pool(stack, settings, SERVICE_NAME)
            http = httpx.AsyncClient(
                base_url=settings.binance_base_url, timeout=settings.binance_timeout_seconds
            )
            stack.push_async_callback(http.aclose)
            bus = await open_bus(stack, settings, SERVICE_NAME)
            ingester = CryptoIngester(
                pool=pool,
                bus=bus,
                client=BinanceClient.from_settings(settings, http),
                settings=settings,
            )
            scheduler = Scheduler(pool=pool, bus=bus, ingester=ingester, settings=settings)
            periodic = [
                Periodic(ingester.maintain, settings.crypto_finalize_sweep_seconds, "maintenance")
            ]
            if settings.crypto_scheduler_enabled:
                periodic.append(
                    Periodic(scheduler.tick, settings.crypto_schedule_seconds, "scheduler")
                )
            await start_consuming(
                stack,
                settings=settings,
                service=SERVICE_NAME,
                pool=pool,
                bus=bus,
                consumers=[
                    Consumer(
                        INGEST_CRYPTO_BACKFILLS, CryptoBackfillRequestedV1, ingester.handle_backfill
                    ),
                    Consumer(INGEST_CRYPTO_STORED, CandlesStoredV1, ingester.on_stored),
                ],
                periodic=periodic,
                checks=checks,
            )
            log.info(
                "service.started",
                binance=settings.binance_base_url,
                scheduler=settings.crypto_scheduler_enabled,
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
        title="Ticktide ingest-crypto", version=settings.ticktide_version, lifespan=lifespan
    )
    app.include_router(health_router(SERVICE_NAME, settings.ticktide_version, lambda: checks))
    app.include_router(archive_upload.router)
    return app
