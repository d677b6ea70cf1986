"""The one place where exchanges, routing keys and queues are named.

Every queue is a quorum queue with a delivery limit and its own dead-letter
queue (`<queue>.dlq`). Names are prefixed with `TICKTIDE_BUS_PREFIX`, so that an
installation, or a test run, owns its names on a shared broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ticktide_common.messages import (
    BacktestJobV1,
    BusMessage,
    CandleBatchV1,
    CandlesStoredV1,
    CryptoBackfillRequestedV1,
    ServiceHeartbeatV1,
    StockPricesStoredV1,
    StockPricesV1,
    StocksBackfillRequestedV1,
    UserActivityV1,
    WeatherBackfillRequestedV1,
    WeatherObservationsV1,
    WeatherStoredV1,
)

__all__ = [
    "Topology",
    "QueueSpec",
    "WRITER_CANDLES",
    "INGEST_CRYPTO_BACKFILLS",
    "GATEWAY_CACHE_INVALIDATION",
    "INGEST_CRYPTO_STORED",
    "WRITER_ACTIVITY",
    "BACKTEST_WORKER_JOBS",
    "WRITER_STOCKS",
    "WRITER_WEATHER",
    "INGEST_STOCKS_BACKFILLS",
    "INGEST_STOCKS_STORED",
    "INGEST_WEATHER_BACKFILLS",
    "INGEST_WEATHER_STORED",
    "GATEWAY_STOCKS_CACHE_INVALIDATION",
    "GATEWAY_WEATHER_CACHE_INVALIDATION",
    "GATEWAY_HEARTBEATS",
    "ALL_QUEUES",
]


@dataclass(frozen=True)
class QueueSpec:
    """A durable queue of one service and the routing keys bound to it."""

    name: str
    routing_keys: tuple[str, ...]
    delivery_limit: int | None = None


def _queue(name: str, message: type[BusMessage]) -> QueueSpec:
    """The queue `name` (`<service>.<purpose>`), bound to the routing key of `message`."""
    return QueueSpec(name, (message.routing_key,))


# What each queue carries, and to whom:
# Candle batches to persist.
WRITER_CANDLES = _queue("writer.candles", CandleBatchV1)
# Backfill commands for the Binance ingester.
INGEST_CRYPTO_BACKFILLS = _queue("ingest-crypto.backfills", CryptoBackfillRequestedV1)
# Stored events that drop the gateway's Redis cache of a series.
GATEWAY_CACHE_INVALIDATION = _queue("gateway.cache-invalidation", CandlesStoredV1)
# Stored events that complete ingest jobs (then gap detection runs).
INGEST_CRYPTO_STORED = _queue("ingest-crypto.stored", CandlesStoredV1)
# User activity events to persist into user_activity_log.
WRITER_ACTIVITY = _queue("writer.activity", UserActivityV1)
# Backtest jobs (a few dozen parameter sets of one series each).
BACKTEST_WORKER_JOBS = _queue("backtest-worker.jobs", BacktestJobV1)
# Daily stock bars to persist.
WRITER_STOCKS = _queue("writer.stocks", StockPricesV1)
# Current and hourly weather observations to persist.
WRITER_WEATHER = _queue("writer.weather", WeatherObservationsV1)
# Backfill commands for the NASDAQ / Nasdaq Nordic ingester.
INGEST_STOCKS_BACKFILLS = _queue("ingest-stocks.backfills", StocksBackfillRequestedV1)
# Stored events that complete stock ingest jobs.
INGEST_STOCKS_STORED = _queue("ingest-stocks.stored", StockPricesStoredV1)
# History backfill commands for the weather ingester.
INGEST_WEATHER_BACKFILLS = _queue("ingest-weather.backfills", WeatherBackfillRequestedV1)
# Stored events that complete weather ingest jobs.
INGEST_WEATHER_STORED = _queue("ingest-weather.stored", WeatherStoredV1)
# Stored events that drop the gateway's cache of a stock.
GATEWAY_STOCKS_CACHE_INVALIDATION = _queue("gateway.stocks-cache-invalidation", StockPricesStoredV1)
# Stored events that drop the gateway's cache of a location.
GATEWAY_WEATHER_CACHE_INVALIDATION = _queue("gateway.weather-cache-invalidation", WeatherStoredV1)
# Every service instance's heartbeat, kept by the gateway for /api/services.
GATEWAY_HEARTBEATS = _queue("gateway.heartbeats", ServiceHeartbeatV1)
ALL_QUEUES: tuple[QueueSpec, ...] = (
    WRITER_STOCKS,
    WRITER_WEATHER,
    INGEST_STOCKS_BACKFILLS,
    INGEST_STOCKS_STORED,
    INGEST_WEATHER_BACKFILLS,
    INGEST_WEATHER_STORED,
    GATEWAY_STOCKS_CACHE_INVALIDATION,
    GATEWAY_WEATHER_CACHE_INVALIDATION,
    BACKTEST_WORKER_JOBS,
    WRITER_ACTIVITY,
    WRITER_CANDLES,
    INGEST_CRYPTO_BACKFILLS,
    INGEST_CRYPTO_STORED,
    GATEWAY_CACHE_INVALIDATION,
    GATEWAY_HEARTBEATS,
)


@dataclass(frozen=True)
class Topology:
    """Names as they appear on the broker for one prefix."""

    prefix: str = "ticktide"
    default_delivery_limit: int = 5
    queues: tuple[QueueSpec, ...] = field(default=ALL_QUEUES)

    @property
    def events_exchange(self) -> str:
        return f"{self.prefix}.events"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.prefix}.dlx"

    def queue_name(self, spec: QueueSpec) -> str:
        return f"{self.prefix}.{spec.name}"

    def dlq_name(self, spec: QueueSpec) -> str:
        return f"{self.prefix}.{spec.name}.dlq"

    def queue_arguments(self, spec: QueueSpec) -> dict[str, object]:
        return {
            "x-queue-type": "quorum",
            "x-delivery-limit": spec.delivery_limit or self.default_delivery_limit,
            "x-dead-letter-exchange": self.dead_letter_exchange,
            "x-dead-letter-routing-key": self.queue_name(spec),
        }
