"""Wiring only: settings, pool, Redis, bus, the job runner on
`backtest-worker.jobs` (small prefetch: a job is seconds of CPU), the
dead-letter consumer, and the health routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from aio_pika.abc import AbstractChannel
from fastapi import FastAPI
from redis.asyncio import Redis

from ticktide_backtest_worker.candles import CandleCache
from ticktide_backtest_worker.dead_letters import consume_dead_jobs
from ticktide_backtest_worker.deps import WorkerState
from ticktide_backtest_worker.settings import WorkerSettings, get_settings
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
from ticktide_common.topology import BACKTEST_WORKER_JOBS

__all__ = ["create_app", "WorkerState", "SERVICE"]

SERVICE = "backtest-worker"
log = get_logger(__name__)


def create_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    checks: dict[str, ReadinessCheck] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[WorkerState]:
        async with AsyncExitStack() as stack:
            pool = await create_pool(
                settings.database_url,
                min_size=1,
                max_size=4,
                application_name=f"ticktide-{SERVICE}",
            )
            stack.push_async_callback(pool.close)
            redis = Redis.from_url(
                settings.redis_url, socket_connect_timeout=2.0, socket_timeout=10.0
            )
            stack.push_async_callback(redis.aclose)
            bus = await Bus.connect_with(settings, service=SERVICE)
            stack.push_async_callback(bus.close)
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
                BACKTEST_WORKER_JOBS,
                BacktestJobV1,
                runner.handle,
                prefetch=settings.backtest_prefetch,
            )
            dead_channel = await consume_dead_jobs(bus, runner.handle_dead_letter, prefetch=1)
            stack.push_async_callback(_close_quietly, dead_channel)  # before bus.close
            checks.update(
                postgres=postgres_check(pool), redis=redis_check(redis), rabbitmq=bus_check(bus)
            )
            stack.callback(checks.clear)
            heartbeat = start_heartbeat(bus, settings, SERVICE, lambda: checks)
            stack.push_async_callback(heartbeat.stop)  # runs first
            log.info(
                "backtest_worker.started",
                queue=bus.topology.queue_name(BACKTEST_WORKER_JOBS),
                prefetch=settings.backtest_prefetch,
            )
            yield WorkerState(settings=settings, pool=pool, redis=redis, bus=bus, runner=runner)

    app = FastAPI(
        title="Ticktide backtest worker",
        version=settings.ticktide_version,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(health_router(SERVICE, settings.ticktide_version, lambda: checks))
    return app


async def _close_quietly(channel: AbstractChannel) -> None:
    """Close the dead-letter consumer's channel; a broken one is closed already."""
    with contextlib.suppress(Exception):
        await channel.close()
