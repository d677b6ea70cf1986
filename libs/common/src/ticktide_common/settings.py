"""The shared base of every service's settings, and the mixins services combine:
the environment first, then `.env`.

Each service declares its own class in `ticktide_<service>/settings.py` over
`ServiceSettings` and the mixins it needs, plus its own fields, so a service
reads only the variables it uses (`.env.example` lists them by service). The
names are the contract's (CONTRACT.md §1). Test runs isolate themselves through
`TICKTIDE_BUS_PREFIX` and `TICKTIDE_REDIS_PREFIX` and their own `DATABASE_URL`,
so several runs can share one set of servers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CRYPTO_INTERVALS: tuple[str, ...] = ("1h", "4h", "1d")
DEFAULT_WEATHER_LOCATIONS = (
    "Helsinki:60.1699:24.9384;New York:40.7128:-74.0060;"
    "London:51.5074:-0.1278;Tokyo:35.6762:139.6503"
)


@dataclass(frozen=True)
class WeatherLocation:
    """A configured place: its name (as the API and CLI know it) and coordinates."""

    name: str
    latitude: float
    longitude: float


def parse_weather_locations(text: str) -> list[WeatherLocation]:
    """`Name:lat:lon;Name:lat:lon` (the format of `WEATHER_LOCATIONS`)."""
    locations: list[WeatherLocation] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, sep1, rest = part.partition(":")
        lat_text, sep2, lon_text = rest.partition(":")
        if not (sep1 and sep2 and name.strip()):
            raise ValueError(f"weather location {part!r}: expected Name:latitude:longitude")
        try:
            latitude, longitude = float(lat_text), float(lon_text)
        except ValueError:
            raise ValueError(
                f"weather location {part!r}: latitude and longitude must be numbers"
            ) from None
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ValueError(f"weather location {part!r}: coordinates out of range")
        locations.append(WeatherLocation(name.strip(), latitude, longitude))
    names = [loc.name.lower() for loc in locations]
    if len(set(names)) != len(names):
        raise ValueError("weather locations: a name appears twice")
    return locations


class ServiceSettings(BaseSettings):
    """The base of every service's settings class: what every process reads.

    A service declares its own class in `ticktide_<service>/settings.py` over
    this base and the mixins below it needs (database, bus, Redis, ...), plus its
    own fields, so it reads only the variables it uses (issue 12).
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    ticktide_env: Literal["dev", "test", "prod"] = "dev"
    ticktide_version: str = "0.1.0"
    log_level: str = "INFO"
    # Where services listen (each its own port) and how often each instance
    # writes its heartbeat (the services page: silent for three periods = stale).
    service_host: str = "127.0.0.1"
    heartbeat_seconds: float = Field(default=10.0, gt=0)


class DatabaseSettings(ServiceSettings):
    """PostgreSQL: one database per installation (or test run)."""

    database_url: str = "postgresql://postgres@127.0.0.1:5432/ticktide"


class RedisSettings(ServiceSettings):
    """Redis, with the key prefix that isolates one installation (or test run)."""

    redis_url: str = "redis://127.0.0.1:6379/0"
    ticktide_redis_prefix: str = "ticktide:"


class BusSettings(ServiceSettings):
    """RabbitMQ, with the exchange/queue prefix that isolates one installation."""

    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    ticktide_bus_prefix: str = "ticktide"
    bus_publish_timeout_seconds: float = 15.0
    bus_delivery_limit: int = 5
    bus_prefetch: int = 8

    @model_validator(mode="after")
    def _no_guest_in_prod(self) -> Self:
        if self.ticktide_env == "prod" and "guest:guest" in self.amqp_url:
            raise ValueError("AMQP_URL uses the default guest account; set real credentials")
        return self


class ProxyTrustSettings(ServiceSettings):
    """The trust boundary (nginx -> gateway -> web/auth): the secret a hop that
    knows the client sends in X-Ticktide-Proxy-Secret beside X-Forwarded-For
    (`make up` generates one into the run directory; required in prod). Empty:
    nobody's X-Forwarded-For is believed."""

    ticktide_proxy_secret: str = Field(default="", repr=False)

    @model_validator(mode="after")
    def _secret_in_prod(self) -> Self:
        if self.ticktide_env == "prod" and len(self.ticktide_proxy_secret) < 16:
            raise ValueError(
                "TICKTIDE_PROXY_SECRET is missing or shorter than 16 characters; "
                "set one (e.g. `openssl rand -hex 32`)"
            )
        return self


class MarketCatalogueSettings(ServiceSettings):
    """What is followed: crypto symbols and intervals, stocks per exchange, weather
    locations (ingesters, gateway and web share these names)."""

    crypto_symbols: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["BTCUSDT", "ETHUSDT"]
    )
    crypto_intervals: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(CRYPTO_INTERVALS)
    )
    stock_symbols_nasdaq: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["AAPL", "MSFT", "NVDA", "GOOGL", "AMZN"]
    )
    stock_symbols_omxh: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["NOKIA", "NDA-FI", "KNEBV", "SAMPO", "UPM"]
    )
    # Weather: `Name:lat:lon;...`; Open-Meteo unless OPENWEATHER_API_KEY is set.
    weather_locations: Annotated[list[WeatherLocation], NoDecode] = Field(
        default_factory=lambda: parse_weather_locations(DEFAULT_WEATHER_LOCATIONS)
    )

    @field_validator("weather_locations", mode="before")
    @classmethod
    def _parse_locations(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_weather_locations(value)
        return value

    @field_validator("stock_symbols_nasdaq", "stock_symbols_omxh", mode="before")
    @classmethod
    def _split_stock_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @field_validator("crypto_symbols", "crypto_intervals", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("crypto_symbols")
    @classmethod
    def _upper_symbols(cls, value: list[str]) -> list[str]:
        return [symbol.upper() for symbol in value]

    @field_validator("crypto_intervals")
    @classmethod
    def _known_intervals(cls, value: list[str]) -> list[str]:
        unknown = [i for i in value if i not in CRYPTO_INTERVALS]
        if unknown:
            raise ValueError(f"unknown crypto intervals {unknown}; use {list(CRYPTO_INTERVALS)}")
        return value


class HistoryBoundsSettings(ServiceSettings):
    """Dates (issue 10): the earliest day a backfill of each source may start (the
    gateway answers 422 before it, the ingester refuses it too), how far past now
    a backfill may end, and the longest backfill of each kind. Gap refills never
    reach before the history start."""

    crypto_history_start: date = date(2017, 7, 14)  # Binance opened
    stocks_history_start: date = date(1970, 1, 1)  # older than any listing we follow
    weather_history_start: date = date(1940, 1, 1)  # Open-Meteo's archive begins
    backfill_max_ahead_days: float = Field(default=1.0, ge=0)
    max_backfill_days: int = 366 * 30
    max_weather_backfill_days: int = 3660
    max_backfill_candles: int = 200_000


class UpstreamHttpSettings(ServiceSettings):
    """Every ingester: the finalize sweep, how often a failing fetch is retried,
    and the retries of one upstream request."""

    ticktide_simulated_fallback: bool = True
    ingest_finalize_sweep_seconds: float = 5.0
    ingest_finalize_stale_seconds: float = 300.0
    ingest_fetch_max_attempts: int = 3
    http_max_attempts: int = 4  # per upstream request, for 5xx, empty pages, timeouts
    http_backoff_seconds: float = 0.5  # first wait of the exponential backoff
    http_timeout_seconds: float = 15.0


class BacktestLimitsSettings(ServiceSettings):
    """Backtests: what the gateway checks at submission and the workers enforce
    (grid size, job size, the batch event stream's bounds, time per job)."""

    backtest_max_combinations: int = 20000
    backtest_job_combinations: int = 50  # parameter sets per job
    backtest_events_maxlen: int = 200_000  # entries kept per batch's event stream
    backtest_events_ttl_seconds: int = 7 * 24 * 3600
    # A walk-forward series may cost at most this many parameter sets × windows
    # (checked at submission); a job running longer than the time limit fails for
    # good (no redelivery).
    backtest_max_walk_forward_work: int = Field(default=200_000, ge=1)
    backtest_job_time_limit_seconds: float = Field(default=300.0, ge=0)
