"""The dashboard's answer: the latest quotes of each domain, recent backtests, a
health summary and how fresh each source is."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from ticktide_gateway.backtests.listing import BatchItem
from ticktide_gateway.schemas import ResponseModel

RECENT_BATCHES = 5
RUNNING_BATCHES = 20
SessionDate = date  # the field below is named `date` too


class CryptoQuote(ResponseModel):
    symbol: str = Field(description="the trading pair, e.g. BTCUSDT")
    base: str
    name: str
    t: datetime | None = Field(description="open time of the newest 1h candle")
    price: float | None = Field(description="close of the newest 1h candle")
    price_24h_ago: float | None = Field(description="close of the 1h candle 24 h before it")
    change_24h_pct: float | None = Field(
        description="percent change over those 24 h; null when either close is unknown"
    )
    source: str | None


class StockQuote(ResponseModel):
    symbol: str
    name: str
    exchange: str
    currency: str
    date: SessionDate | None = Field(description="the newest stored session")
    price: float | None = Field(description="its close")
    previous_close: float | None = Field(description="close of the session before it")
    change_pct: float | None = Field(description="percent change from the previous close")
    source: str | None


class WeatherNow(ResponseModel):
    location: str
    t: datetime | None = Field(description="observation time; null when none stored yet")
    temperature: float | None = Field(description="°C")
    humidity: float | None = Field(description="%")
    pressure: float | None = Field(description="hPa")
    wind_speed: float | None = Field(description="m/s")
    description: str | None
    source: str | None


class DashboardBatches(ResponseModel):
    running: list[BatchItem] = Field(
        description=f"queued ones, newest first, at most {RUNNING_BATCHES}"
    )
    recent: list[BatchItem] = Field(
        description=f"the {RECENT_BATCHES} newest, whatever their status"
    )


class HealthSummary(ResponseModel):
    status: str = Field(description='"ok" when every service and dependency is, else "degraded"')
    services: dict[str, str] = Field(description='each service: "ok", "degraded" or "down"')
    dependencies: dict[str, str] = Field(description='postgresql, redis, rabbitmq: "ok" or "down"')


class SourceFreshness(ResponseModel):
    table: str
    last: datetime | None = Field(description="time of the newest stored row (candle, bar, hour)")
    age_seconds: float | None = Field(description="now minus `last`")
    simulated: bool = Field(description="the newest rows are simulated data")


class Freshness(ResponseModel):
    crypto: SourceFreshness
    stocks: SourceFreshness
    weather: SourceFreshness


class Dashboard(ResponseModel):
    generated_at: datetime
    crypto: list[CryptoQuote] = Field(description="every active pair, by symbol")
    stocks: list[StockQuote] = Field(description="every active stock, by exchange and symbol")
    weather: list[WeatherNow] = Field(description="every active location, by name")
    batches: DashboardBatches
    health: HealthSummary
    freshness: Freshness
