"""Wiring only: settings, pool, Redis, bus, the job runner on
`backtest-worker.jobs` (small prefetch: a job is seconds of CPU), the
dead-letter consumer, and the health routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from redis.asyncio import Redis

from ticktide_backtest_worker.candles import CandleCache
from ticktide_backtest_worker.dead_letters import consume_dead_jobs
from ticktide_backtest_worker.worker import BacktestJobRunner
from ticktide_common.backtests.events import BatchEventLog
from ticktide_common.bus import Bus
from ticktide_common.db import create_pool
from ticktide_common.faults import CommitFault
from ticktide_common.health import (
    ReadinessCheck,
    bus_check,
    health_router,
    postgres_check,
    redis_check,
)
from ticktide_common.heartbeat import start_heartbeat
from ticktide_common.logging import get_logger
from ticktide_common.messages import BacktestJobV1
from ticktide_common.settings import Settings, get_settings
from ticktide_common.topology import BACKTEST_WORKER_JOBS, Topology

__all__ = ["create_app", "WorkerState", "SERVICE"]

SERVICE = "backtest-worker"
log = get_logger(__name__)


@dataclass
class WorkerState:
    pool: asyncpg.Pool
    redis: Redis
    bus: Bus
    runner: BacktestJobRunner


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    state: dict[str, WorkerState] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(
            settings.database_url, min_size=1, max_size=4, application_name=f"ticktide-{SERVICE}"
        )
        redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2.0, socket_timeout=10.0)
        topology = Topology(
            prefix=settings.ticktide_bus_prefix, default_delivery_limit=settings.bus_delivery_limit
        )
        bus = await Bus.connect(
            settings.amqp_url,
            topology,
            service=SERVICE,
            publish_timeout=settings.bus_publish_timeout_seconds,
        )
        events = BatchEventLog(
            redis,
            settings.ticktide_redis_prefix,
            maxlen=settings.backtest_events_maxlen,
            ttl_seconds=settings.backtest_events_ttl_seconds,
        )
        runner = BacktestJobRunner(
            pool,
            CandleCache(pool, settings.backtest_candle_cache_series),
            events,
            CommitFault.from_settings(settings),
            time_limit_seconds=settings.backtest_job_time_limit_seconds,
        )
        await bus.consume(
            BACKTEST_WORKER_JOBS, BacktestJobV1, runner.handle, prefetch=settings.backtest_prefetch
        )
        dead_channel = await consume_dead_jobs(bus, runner.handle_dead_letter, prefetch=1)
        state["current"] = app.state.worker = WorkerState(pool, redis, bus, runner)
        heartbeat = start_heartbeat(bus, settings, SERVICE, checks)
        log.info(
            "backtest_worker.started",
            queue=topology.queue_name(BACKTEST_WORKER_JOBS),
            prefetch=settings.backtest_prefetch,
        )
        try:
            yield
        finally:
            await heartbeat.stop()
            with contextlib.suppress(Exception):
                await dead_channel.close()
            await bus.close()
            await redis.aclose()
            await pool.close()
            state.pop("current", None)

    def checks() -> dict[str, ReadinessCheck]:
        current = state.get("current")
        if current is None:
            return {}
        return {
            "postgres": postgres_check(current.pool),
            "redis": redis_check(current.redis),
            "rabbitmq": bus_check(current.bus),
        }

    app = FastAPI(
        title="Ticktide backtest worker",
        version=settings.ticktide_version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(health_router(SERVICE, settings.ticktide_version, checks))
    return app
