"""Wiring of ingest-crypto: settings, pool, bus, Binance client, consumers,
the scheduler and the finalize sweep, and the health routes."""

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
from ticktide_common.messages import CandlesStoredV1, CryptoBackfillRequestedV1
from ticktide_common.periodic import run_periodically, stop_tasks
from ticktide_common.settings import Settings, get_settings
from ticktide_common.topology import INGEST_CRYPTO_BACKFILLS, INGEST_CRYPTO_STORED, Topology
from ticktide_ingest_crypto.client import BinanceClient
from ticktide_ingest_crypto.scheduler import Scheduler
from ticktide_ingest_crypto.service import BackfillRunner, JobFinalizer

__all__ = ["SERVICE_NAME", "IngestState", "create_app"]

SERVICE_NAME = "ingest-crypto"
log = get_logger(__name__)


@dataclass
class IngestState:
    """Everything the lifespan creates; closed in reverse order on shutdown."""

    pool: asyncpg.Pool
    bus: Bus
    http: httpx.AsyncClient
    runner: BackfillRunner
    finalizer: JobFinalizer
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
            binance=settings.binance_base_url,
            scheduler=settings.crypto_scheduler_enabled,
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
        title="Ticktide ingest-crypto", version=settings.ticktide_version, lifespan=lifespan
    )
    app.include_router(health_router(SERVICE_NAME, settings.ticktide_version, checks))
    return app


async def _start(settings: Settings) -> IngestState:
    pool = await create_pool(
        settings.database_url, min_size=1, max_size=10, application_name=SERVICE_NAME
    )
    topology = Topology(
        prefix=settings.ticktide_bus_prefix, default_delivery_limit=settings.bus_delivery_limit
    )
    bus = await Bus.connect(
        settings.amqp_url,
        topology,
        service=SERVICE_NAME,
        publish_timeout=settings.bus_publish_timeout_seconds,
    )
    http = httpx.AsyncClient(
        base_url=settings.binance_base_url, timeout=settings.binance_timeout_seconds
    )
    client = BinanceClient.from_settings(settings, http)
    finalizer = JobFinalizer(pool=pool, bus=bus, settings=settings)
    runner = BackfillRunner(
        pool=pool, bus=bus, client=client, finalizer=finalizer, settings=settings
    )
    scheduler = Scheduler(pool=pool, bus=bus, finalizer=finalizer, settings=settings)
    await bus.consume(
        INGEST_CRYPTO_BACKFILLS,
        CryptoBackfillRequestedV1,
        runner.handle,
        prefetch=settings.bus_prefetch,
    )
    await bus.consume(
        INGEST_CRYPTO_STORED, CandlesStoredV1, finalizer.on_stored, prefetch=settings.bus_prefetch
    )
    tasks = [
        asyncio.create_task(
            run_periodically(
                finalizer.maintain, settings.crypto_finalize_sweep_seconds, "maintenance"
            )
        )
    ]
    if settings.crypto_scheduler_enabled:
        tasks.append(
            asyncio.create_task(
                run_periodically(scheduler.tick, settings.crypto_schedule_seconds, "scheduler")
            )
        )
    return IngestState(
        pool=pool,
        bus=bus,
        http=http,
        runner=runner,
        finalizer=finalizer,
        scheduler=scheduler,
        tasks=tasks,
    )


async def _stop(state: IngestState) -> None:
    await stop_tasks(state.tasks)
    await state.bus.close()
    await state.http.aclose()
    await state.pool.close()
