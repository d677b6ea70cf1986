"""The gateway's settings: the shared mixins it needs and its own fields (issue 12)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from ticktide_common.sessions import SessionSettings
from ticktide_common.settings import (
    BacktestLimitsSettings,
    BusSettings,
    DatabaseSettings,
    HistoryBoundsSettings,
    MarketCatalogueSettings,
    ProxyTrustSettings,
)

__all__ = ["GatewaySettings", "get_settings"]


class GatewaySettings(
    DatabaseSettings,
    SessionSettings,
    BusSettings,
    ProxyTrustSettings,
    MarketCatalogueSettings,
    HistoryBoundsSettings,
    BacktestLimitsSettings,
):
    """What the gateway reads: where it listens, where it finds the other
    services, its cache, request metrics, sessions and backtest streams."""

    gateway_port: int = 8100
    # Where the gateway finds the others.
    auth_url: str = "http://127.0.0.1:8103"
    ingest_crypto_url: str = "http://127.0.0.1:8101"
    writer_url: str = "http://127.0.0.1:8102"
    ingest_stocks_url: str = "http://127.0.0.1:8104"
    ingest_weather_url: str = "http://127.0.0.1:8105"
    web_url: str = "http://127.0.0.1:8106"  # where the gateway forwards page requests
    # pgAdmin's base URL, for its row on the services page ("": not run here).
    pgadmin_url: str = ""

    cache_ttl_seconds: int = 3600
    max_candles_per_request: int = 20000
    metrics_flush_seconds: float = 2.0
    metrics_flush_rows: int = 500
    default_candles_per_request: int = 1000
    service_probe_timeout_seconds: float = 2.0
    gateway_local_cache_bytes: int = 64 * 1024 * 1024

    backtest_stream_lifetime_seconds: float = 600.0  # an SSE response is closed after this
    backtest_run_timeout_seconds: float = 120.0  # POST /backtest/run waits this long
    # Issue 10, H1: concurrent event streams (GET .../events, POST .../stream) and
    # awaited POST .../run calls, per user and in all, counted per gateway process
    # (429 beyond); how often an open stream re-checks its session or token; the
    # Redis pool of session checks and the cache (bounded, with a short wait:
    # exhausted answers 503 at once). Blocking stream reads have a pool of their
    # own, one connection per batch listened to.
    backtest_streams_per_user: int = Field(default=8, ge=1)
    backtest_streams_total: int = Field(default=200, ge=1)
    backtest_runs_per_user: int = Field(default=2, ge=1)
    backtest_runs_total: int = Field(default=50, ge=1)
    backtest_stream_recheck_seconds: float = Field(default=15.0, gt=0)
    gateway_redis_max_connections: int = Field(default=64, ge=2)
    gateway_redis_pool_timeout_seconds: float = Field(default=0.5, gt=0)

    # Services page: RabbitMQ's management API for queue depths ("" derives
    # http://<AMQP_URL host>:15672 with AMQP_URL's credentials; "off" never asks it).
    rabbitmq_management_url: str = ""

    # Anonymous /api/health is a summary at most this old.
    health_cache_seconds: float = Field(default=5.0, ge=0)


@lru_cache(maxsize=1)
def get_settings() -> GatewaySettings:
    """The gateway's settings, read once."""
    return GatewaySettings()
