"""Every event and command on the bus, as versioned pydantic models.

Producer and consumer import the same class. A message's routing key names its
version (`crypto.candles.v1`); a breaking change adds a new class and key, it
never edits one that is in use. Prices and volumes travel as the provider's
decimal strings so that no precision is lost between Binance and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

__all__ = [
    "BacktestJobV1",
    "WalkForwardV1",
    "UserActivityV1",
    "PLAIN_DECIMAL",
    "BusMessage",
    "IngestBatchMessage",
    "BackfillCommand",
    "StoredBatch",
    "CandleV1",
    "CandleSeriesBatch",
    "CandleBatchV1",
    "CandlesStoredV1",
    "CryptoBackfillRequestedV1",
    "CandleSource",
    "CryptoInterval",
    "StockExchange",
    "StockSource",
    "StockBarV1",
    "StockBatch",
    "StockPricesV1",
    "StockPricesStoredV1",
    "StocksBackfillRequestedV1",
    "WeatherSource",
    "WeatherKind",
    "WeatherBatch",
    "WeatherObservationV1",
    "WeatherObservationsV1",
    "WeatherStoredV1",
    "WeatherBackfillRequestedV1",
    "STOCK_SYMBOL_PATTERN",
    "LOCATION_PATTERN",
    "ServiceHeartbeatV1",
    "ServiceStatus",
]

# A plain decimal number as providers send it ("42000.10000000", "-1.5", "1e-8"),
# checked by pattern inside pydantic-core: a Python validator per price cost the
# writer more CPU than all the rest of its work. Both Decimal and PostgreSQL's
# numeric accept every string this admits; NaN, infinities, whitespace and `_`
# separators are refused.
PLAIN_DECIMAL = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
DecimalString = Annotated[str, Field(max_length=64, pattern=PLAIN_DECIMAL)]


def _utc(value: datetime) -> datetime:
    # One shared tzinfo (datetime.UTC) makes comparing, hashing and formatting
    # times several times cheaper than pydantic's per-value fixed-offset tzinfo.
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
When = TypeVar("When")


class BusMessage(BaseModel):
    """Base of every message: carries its routing key and a unique id."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    routing_key: ClassVar[str]

    message_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    produced_at: UtcDatetime = Field(default_factory=lambda: datetime.now(UTC))


class IngestBatchMessage(BusMessage):
    """Base of the messages about one batch of an ingest job (the batch as fetched,
    and the writer's word that it is stored): its deterministic id and its job."""

    batch_id: uuid.UUID
    job_id: uuid.UUID | None = None


class BackfillCommand(BusMessage, Generic[When]):
    """Base of the commands to an ingester: load `[start, end)` of one series for
    `job_id`, whose row exists before its command is published. `When` is the
    series' time type: an aware datetime for candles and observations, a date
    for trading days."""

    job_id: uuid.UUID
    start: When
    end: When
    requested_by: str = "system"


class StoredBatch(IngestBatchMessage):
    """Base of the writer's word that it committed a batch: how many rows the
    batch inserted or changed (0 for a redelivered one)."""

    rows_changed: int


# --- Crypto -------------------------------------------------------------------

CryptoInterval = Literal["1h", "4h", "1d"]
CandleSource = Literal["binance", "binance-archive", "simulated"]

CryptoSymbol = Annotated[str, Field(min_length=2, max_length=20, pattern=r"^[A-Z0-9]+$")]


class CryptoBackfillRequestedV1(BackfillCommand[UtcDatetime]):
    """A command to ingest-crypto: fetch `[start, end)` of one series from the source."""

    routing_key: ClassVar[str] = "crypto.backfill-requested.v1"

    symbol: CryptoSymbol
    interval: CryptoInterval


class CandleV1(BaseModel):
    """One OHLCV bar; `t` is its open time. Decimal strings as the provider sent them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    t: UtcDatetime
    o: DecimalString
    h: DecimalString
    l: DecimalString  # noqa: E741 - the contract's field name
    c: DecimalString
    v: DecimalString


class CandleSeriesBatch(IngestBatchMessage):
    """A batch of one crypto series from one source, as fetched and as stored."""

    symbol: str
    interval: CryptoInterval
    source: CandleSource


class CandleBatchV1(CandleSeriesBatch):
    """Candles of one series, fetched or imported together.

    `batch_id` is deterministic for a given page of a given job, so that a
    re-published page is recognised as the same batch by the writer.
    """

    routing_key: ClassVar[str] = "crypto.candles.v1"

    symbol: CryptoSymbol
    candles: Annotated[list[CandleV1], Field(max_length=5000)]


class CandlesStoredV1(CandleSeriesBatch, StoredBatch):
    """The writer committed one batch; readers of the series drop their caches."""

    routing_key: ClassVar[str] = "crypto.candles-stored.v1"

    first_t: UtcDatetime | None
    last_t: UtcDatetime | None
    candles: int


# --- Stocks -------------------------------------------------------------------

StockExchange = Literal["NASDAQ", "OMXH"]
StockSource = Literal["nasdaq", "nasdaq-nordic", "simulated"]
# Ours, not the provider's: 'NDA-FI' for Nasdaq Nordic's 'NDA FI'.
STOCK_SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-]{0,19}$"
StockSymbol = Annotated[str, Field(min_length=1, max_length=20, pattern=STOCK_SYMBOL_PATTERN)]


class StocksBackfillRequestedV1(BackfillCommand[date]):
    """A command to ingest-stocks: fetch trading days in `[start, end)` of one symbol."""

    routing_key: ClassVar[str] = "stocks.backfill-requested.v1"

    symbol: StockSymbol
    exchange: StockExchange


class StockBarV1(BaseModel):
    """One trading day. Decimal strings with the provider's `$` and thousands
    separators already removed. `o` is None where the exchange publishes no
    opening price (Nasdaq Nordic): it is never invented."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    date: date
    o: DecimalString | None
    h: DecimalString
    l: DecimalString  # noqa: E741 - the contract's field name
    c: DecimalString
    v: DecimalString
    average: DecimalString | None = None
    turnover: DecimalString | None = None


class StockBatch(IngestBatchMessage):
    """A batch of one stock's daily bars from one source, as fetched and as stored."""

    symbol: str
    exchange: StockExchange
    source: StockSource


class StockPricesV1(StockBatch):
    """Daily bars of one stock fetched together; `batch_id` deterministic per page."""

    routing_key: ClassVar[str] = "stocks.prices.v1"

    symbol: StockSymbol
    bars: Annotated[list[StockBarV1], Field(max_length=5000)]


class StockPricesStoredV1(StockBatch, StoredBatch):
    """The writer committed one stock batch; caches of that symbol are dropped."""

    routing_key: ClassVar[str] = "stocks.prices-stored.v1"

    first_date: date | None
    last_date: date | None
    bars: int


# --- Weather ------------------------------------------------------------------

WeatherSource = Literal["open-meteo", "openweather", "simulated"]
WeatherKind = Literal["current", "historic"]
LOCATION_PATTERN = r"^[A-Za-z][A-Za-z .'\-]{0,63}$"
LocationName = Annotated[str, Field(min_length=1, max_length=64, pattern=LOCATION_PATTERN)]
Measure = Annotated[float, Field(allow_inf_nan=False)]


class WeatherBackfillRequestedV1(BackfillCommand[UtcDatetime]):
    """A command to ingest-weather: fetch hourly history in `[start, end)` of one location."""

    routing_key: ClassVar[str] = "weather.backfill-requested.v1"

    location: LocationName


class WeatherObservationV1(BaseModel):
    """One observation in normalised units: °C, % humidity, hPa, m/s.
    `raw` is the provider's payload for this row (one hour's values of a
    column-oriented answer, or the whole current-weather object)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    t: UtcDatetime
    temperature: Measure | None
    humidity: Measure | None
    pressure: Measure | None
    wind_speed: Measure | None
    description: Annotated[str | None, Field(max_length=200)] = None
    raw: dict[str, Any] = Field(default_factory=dict)


class WeatherBatch(IngestBatchMessage):
    """A batch of one location's observations from one source, as fetched and as stored."""

    location: str
    kind: WeatherKind
    source: WeatherSource


class WeatherObservationsV1(WeatherBatch):
    """Observations of one location: `current` rows go to `weather_current`,
    `historic` (hourly) rows to `weather_historic`."""

    routing_key: ClassVar[str] = "weather.observations.v1"

    location: LocationName
    observations: Annotated[list[WeatherObservationV1], Field(max_length=5000)]


class WeatherStoredV1(WeatherBatch, StoredBatch):
    """The writer committed one weather batch; caches of that location are dropped."""

    routing_key: ClassVar[str] = "weather.observations-stored.v1"

    first_t: UtcDatetime | None
    last_t: UtcDatetime | None
    observations: int


# --- Auth ---------------------------------------------------------------------


class UserActivityV1(BusMessage):
    """One user action (a login, a logout, an authenticated state-changing request),
    persisted by the writer into `user_activity_log`; `message_id` is its key."""

    routing_key: ClassVar[str] = "auth.activity-recorded.v1"

    user_id: int | None
    username: str | None = None
    action: Annotated[str, Field(max_length=200)]
    ip_address: str | None = None
    user_agent: Annotated[str | None, Field(max_length=512)] = None
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    at: UtcDatetime


# --- Backtests ----------------------------------------------------------------

ParamValue = int | float | str | bool


class WalkForwardV1(BaseModel):
    """Rolling windows by bar count: train on `train_bars`, trade the next `test_bars`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    train_bars: Annotated[int, Field(ge=2, le=1_000_000)]
    test_bars: Annotated[int, Field(ge=1, le=1_000_000)]


class StrategyVersionV1(BaseModel):
    """A saved language strategy's version, as a job runs it: the document itself
    travels with the job (the worker checks it again and compiles it; it never
    reads the strategies tables), its identity so the result names what it ran."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[int, Field(ge=1)]
    version: Annotated[int, Field(ge=1)]
    shape_hash: Annotated[str, Field(max_length=64)]
    document: dict[str, Any]


class BacktestJobV1(BusMessage):
    """A command to a backtest worker: run `param_sets` of one strategy on one series.

    A batch is split into jobs of a few dozen parameter sets each; `job_id` is the
    job's number within the batch (0-based), so results are keyed by
    (batch_id, job_id, params) and a redelivered job stores nothing twice.
    """

    routing_key: ClassVar[str] = "backtest.job-requested.v1"

    batch_id: uuid.UUID
    job_id: Annotated[int, Field(ge=0)]
    total_jobs: Annotated[int, Field(ge=1)]
    symbol: CryptoSymbol
    interval: CryptoInterval
    start: UtcDatetime
    end: UtcDatetime
    strategy: Annotated[str, Field(max_length=64)]  # a built-in's name, or the saved one's
    # Set for a saved language strategy (then `strategy` is only its name).
    strategy_version: StrategyVersionV1 | None = None
    # A walk-forward job carries its series' whole grid (every window ranks all of it).
    param_sets: Annotated[list[dict[str, ParamValue]], Field(min_length=1, max_length=20000)]
    fee: float
    slippage_bps: float
    initial_cash: float
    details: bool = False
    requested_by: int | None = None
    rank_by: str = "sharpe"
    walk_forward: WalkForwardV1 | None = None


# --- Services -------------------------------------------------------------------

ServiceStatus = Literal["running", "stopping"]


class ServiceHeartbeatV1(BusMessage):
    """One running instance of a service says it is alive, every `HEARTBEAT_SECONDS`,
    with the outcome of its own readiness checks; `stopping` is its last word."""

    routing_key: ClassVar[str] = "service.heartbeat.v1"

    service: Annotated[str, Field(min_length=1, max_length=64)]
    instance: uuid.UUID  # made when the process starts
    host: Annotated[str, Field(max_length=255)]
    pid: Annotated[int, Field(ge=0)]
    version: Annotated[str, Field(max_length=64)]
    started_at: UtcDatetime
    sent_at: UtcDatetime
    interval_seconds: Annotated[float, Field(gt=0)]
    status: ServiceStatus = "running"
    ready: bool
    # check name -> "ok" or what went wrong, e.g. {"postgres": "ok", "rabbitmq": "ok"}
    checks: dict[str, Annotated[str, Field(max_length=300)]] = Field(default_factory=dict)
