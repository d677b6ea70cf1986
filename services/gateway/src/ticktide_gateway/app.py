"""Wiring of the gateway: settings, pool, Redis, bus, HTTP client, session store,
activity recorder, routers (its own, the auth proxy, the merged OpenAPI
document, nginx's pgAdmin check), middleware, the system strategies' seed, and
the consumers that drop cached bodies when candles, stock bars or weather
observations are stored."""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial

import httpx
from fastapi import FastAPI
from redis.asyncio import BlockingConnectionPool, Redis

from ticktide_common.activity import ActivityRecorder
from ticktide_common.backtests.events import BatchEventLog
from ticktide_common.bus import Bus
from ticktide_common.db import create_pool
from ticktide_common.health import (
    ReadinessCheck,
    bus_check,
    health_router,
    postgres_check,
    redis_check,
)
from ticktide_common.heartbeat import start_heartbeat
from ticktide_common.logging import get_logger
from ticktide_common.messages import (
    CandlesStoredV1,
    ServiceHeartbeatV1,
    StockPricesStoredV1,
    WeatherStoredV1,
)
from ticktide_common.proxy_trust import TrustedProxyMiddleware
from ticktide_common.sessions import SessionStore
from ticktide_common.topology import (
    GATEWAY_CACHE_INVALIDATION,
    GATEWAY_HEARTBEATS,
    GATEWAY_STOCKS_CACHE_INVALIDATION,
    GATEWAY_WEATHER_CACHE_INVALIDATION,
)
from ticktide_gateway import auth_proxy, openapi_doc, pgadmin_check, web_proxy
from ticktide_gateway.activity_log import ActivityMiddleware
from ticktide_gateway.admin import archive_import
from ticktide_gateway.admin import routes as admin
from ticktide_gateway.aggregate_paths import series_path as series_path_of
from ticktide_gateway.backtests import routes as backtest
from ticktide_gateway.backtests.batch_reader import BatchReaderHub
from ticktide_gateway.backtests.live import LiveBatches
from ticktide_gateway.backtests.stream_limits import ConcurrencyLimit
from ticktide_gateway.body_limits import install_body_limits
from ticktide_gateway.cache import (
    LATEST_STOCKS,
    ResponseCache,
    location_series,
    stock_series,
)
from ticktide_gateway.cached_answers import install_cached_answers
from ticktide_gateway.crypto import routes as crypto
from ticktide_gateway.crypto.price_cache import PieceCache, invalidate_stored
from ticktide_gateway.dashboard import routes as dashboard
from ticktide_gateway.database import admin_routes as admin_database
from ticktide_gateway.database import routes as database
from ticktide_gateway.deps import GatewayState, SymbolDirectory
from ticktide_gateway.error_handlers import install_error_handlers
from ticktide_gateway.health import routes as public
from ticktide_gateway.health import services_routes as services
from ticktide_gateway.health.registry import InstanceRegistry
from ticktide_gateway.performance import routes as performance
from ticktide_gateway.request_metrics import (
    MetricsBuffer,
    RequestMetricsMiddleware,
    insert_request_metrics,
)
from ticktide_gateway.settings import GatewaySettings, get_settings
from ticktide_gateway.stocks import routes as stocks
from ticktide_gateway.strategies import repository as strategies_repository
from ticktide_gateway.strategies import routes as strategies
from ticktide_gateway.strategies.service import system_versions
from ticktide_gateway.weather import routes as weather

__all__ = ["create_app", "SERVICE"]

SERVICE = "gateway"

log = get_logger(__name__)

STREAM_BLOCK_MS = 1000  # one XREAD BLOCK of a batch reader: how long one may outlive its listeners


def _redis_pools(settings: GatewaySettings) -> tuple[Redis, Redis]:
    """Two pools, so that no number of event streams can starve session checks:
    - the main one (session checks, the cache, the event log's writes): bounded,
      and a request finding it exhausted waits briefly, then answers 503;
    - the stream one: the batch readers' XREAD BLOCK (one per batch listened to,
      at most one per stream or awaited run) and their catch-up XRANGE pages.
    Bounded socket waits: a hung Redis makes requests answer 503, not hang.
    Named by installation, so `CLIENT LIST` tells this gateway's connections apart."""
    name = f"ticktide-gateway@{settings.ticktide_redis_prefix}".replace(" ", "_")
    main = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.gateway_redis_max_connections,
        timeout=settings.gateway_redis_pool_timeout_seconds,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        client_name=name,
    )
    streams = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.backtest_streams_total + settings.backtest_runs_total + 16,
        timeout=5.0,
        socket_connect_timeout=2.0,
        socket_timeout=STREAM_BLOCK_MS / 1000 + 5.0,
        client_name=name.replace("ticktide-gateway@", "ticktide-gateway-streams@", 1),
    )
    return Redis.from_pool(main), Redis.from_pool(streams)


def _live_batches(settings: GatewaySettings, stream_redis: Redis) -> LiveBatches:
    events = BatchEventLog(
        stream_redis,
        settings.ticktide_redis_prefix,
        maxlen=settings.backtest_events_maxlen,
        ttl_seconds=settings.backtest_events_ttl_seconds,
    )
    return LiveBatches(
        hub=BatchReaderHub(events, block_ms=STREAM_BLOCK_MS),
        streams=ConcurrencyLimit(
            "event streams",
            per_user=settings.backtest_streams_per_user,
            total=settings.backtest_streams_total,
        ),
        runs=ConcurrencyLimit(
            "awaited runs",
            per_user=settings.backtest_runs_per_user,
            total=settings.backtest_runs_total,
        ),
        recheck_seconds=settings.backtest_stream_recheck_seconds,
    )


def create_app(
    settings: GatewaySettings | None = None, clock: Callable[[], float] | None = None
) -> FastAPI:
    """The gateway app; `clock` (seconds since the epoch) is what sessions'
    idle and absolute timeouts are measured by (tests inject one)."""
    settings = settings or get_settings()
    checks: dict[str, ReadinessCheck] = {}
    metrics_buffer = MetricsBuffer(
        flush_rows=settings.metrics_flush_rows, flush_seconds=settings.metrics_flush_seconds
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[GatewayState]:
        async with AsyncExitStack() as stack:
            pool = await create_pool(
                settings.database_url, min_size=2, max_size=10, application_name="ticktide-gateway"
            )
            stack.push_async_callback(pool.close)
            # The built-ins as read-only system strategies, from their documents in
            # code (ticktide_common.rules.system): idempotent, so every start does it.
            added = await strategies_repository.ensure_system_strategies(pool, system_versions())
            if added:
                log.info("gateway.system_strategies_added", versions=added)
            series_path = await series_path_of(pool)
            log.info(
                "gateway.series_path",
                timescaledb=series_path.timescaledb,
                crypto_daily_aggregate=series_path.crypto_daily_aggregate,
                weather_daily_aggregate=series_path.weather_daily_aggregate,
                path=series_path.describe(),
            )
            redis, stream_redis = _redis_pools(settings)
            stack.push_async_callback(redis.aclose)
            stack.push_async_callback(stream_redis.aclose)
            live_batches = _live_batches(settings, stream_redis)
            stack.push_async_callback(live_batches.hub.close)  # runs before stream_redis.aclose
            bus = await Bus.connect_with(settings, service=SERVICE)
            stack.push_async_callback(bus.close)
            http = httpx.AsyncClient()
            stack.push_async_callback(http.aclose)
            sessions = SessionStore(
                redis,
                settings.ticktide_redis_prefix,
                idle_seconds=settings.session_idle_minutes * 60,
                absolute_seconds=settings.session_absolute_hours * 3600,
                clock=clock or time.time,
            )
            activity = ActivityRecorder(bus)
            activity.start()
            stack.push_async_callback(activity.close)  # runs before bus.close
            checks.update(
                postgresql=postgres_check(pool), redis=redis_check(redis), rabbitmq=bus_check(bus)
            )

            metrics_buffer.start(partial(insert_request_metrics, pool))
            stack.push_async_callback(metrics_buffer.close)  # runs before pool.close

            cache = ResponseCache(
                redis,
                settings.ticktide_redis_prefix,
                settings.cache_ttl_seconds,
                local_bytes=settings.gateway_local_cache_bytes,
            )

            pieces = PieceCache(
                redis,
                settings.ticktide_redis_prefix,
                settings.cache_ttl_seconds,
                local_bytes=settings.gateway_local_cache_bytes,
            )

            async def drop_cached_series(event: CandlesStoredV1) -> None:
                # The pieces the batch's candles fall in first: a body assembled
                # between the two steps is keyed by the new piece versions.
                await invalidate_stored(
                    redis,
                    settings.ticktide_redis_prefix,
                    event.symbol,
                    event.interval,
                    event.first_t,
                    event.last_t,
                )
                await cache.invalidate_series(event.symbol, event.interval)

            async def drop_cached_stock(event: StockPricesStoredV1) -> None:
                await cache.invalidate([stock_series(event.symbol), LATEST_STOCKS])

            async def drop_cached_location(event: WeatherStoredV1) -> None:
                await cache.invalidate([location_series(event.location)])

            await bus.consume(
                GATEWAY_CACHE_INVALIDATION,
                CandlesStoredV1,
                drop_cached_series,
                prefetch=settings.bus_prefetch,
            )
            await bus.consume(
                GATEWAY_STOCKS_CACHE_INVALIDATION,
                StockPricesStoredV1,
                drop_cached_stock,
                prefetch=settings.bus_prefetch,
            )
            await bus.consume(
                GATEWAY_WEATHER_CACHE_INVALIDATION,
                WeatherStoredV1,
                drop_cached_location,
                prefetch=settings.bus_prefetch,
            )
            registry = InstanceRegistry(redis, settings.ticktide_redis_prefix)
            await bus.consume(
                GATEWAY_HEARTBEATS,
                ServiceHeartbeatV1,
                registry.record,
                prefetch=settings.bus_prefetch,
            )
            heartbeat = start_heartbeat(bus, settings, SERVICE, lambda: checks)
            stack.push_async_callback(heartbeat.stop)  # runs before bus.close
            gc.collect()
            gc.freeze()  # start-up objects live forever; keep them out of collections
            log.info("gateway.started", port=settings.gateway_port)
            yield GatewayState(
                settings=settings,
                pool=pool,
                redis=redis,
                bus=bus,
                http=http,
                cache=cache,
                pieces=pieces,
                symbols=SymbolDirectory(pool),
                series_path=series_path,
                checks=checks,
                sessions=sessions,
                activity=activity,
                backtest_events=BatchEventLog(
                    redis,
                    settings.ticktide_redis_prefix,
                    maxlen=settings.backtest_events_maxlen,
                    ttl_seconds=settings.backtest_events_ttl_seconds,
                ),
                live_batches=live_batches,
            )
            log.info("gateway.stopping")

    app = FastAPI(
        title="Ticktide API",
        version=settings.ticktide_version,
        lifespan=lifespan,
        # Served by openapi_doc: the gateway's document merged with auth's.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.include_router(health_router(SERVICE, settings.ticktide_version, lambda: checks))
    app.include_router(openapi_doc.router)
    app.include_router(public.router)
    app.include_router(auth_proxy.router)
    app.include_router(pgadmin_check.router)  # nginx's auth_request for /pgadmin/
    app.include_router(crypto.router)
    app.include_router(backtest.router)
    app.include_router(strategies.router)
    app.include_router(stocks.router)
    app.include_router(weather.router)
    app.include_router(admin.router)
    app.include_router(archive_import.router)
    app.include_router(admin_database.router)
    app.include_router(database.router)
    app.include_router(dashboard.router)
    app.include_router(performance.router)
    app.include_router(services.router)
    web_proxy.install_page_forwarding(app)  # whatever no route matched: a page
    # Innermost: cached answers before routing (a GET has no body to limit).
    install_cached_answers(app, {"/api/crypto/prices": crypto.cached_prices})
    install_body_limits(app)  # a 413 is still logged and counted
    app.add_middleware(ActivityMiddleware)
    app.add_middleware(RequestMetricsMiddleware, buffer=metrics_buffer)
    # Outermost: who the client is (X-Forwarded-For only with the proxy secret),
    # before the activity log and anything else reads it.
    app.add_middleware(TrustedProxyMiddleware, secret=settings.ticktide_proxy_secret)
    return app
