"""The crypto endpoints' inputs: query and body models, the rules that turn
`start`/`end`/`limit` into the exact window a prices query reads (and
`start`/`end`/`bucket` into the buckets of an aggregates query), and the
response models the OpenAPI document declares. Times and symbols are the shared
`ticktide_gateway.validation` types. Backfills are also bounded by the source's
history start and by now (`check_backfill_range`).

Pure: no I/O. Every rejection is an `InvalidQuery` whose message says what was
wrong and what is allowed; the app turns it into a 422 `{"detail": ...}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ticktide_common.dates import DateOutOfRange, check_backfill_bounds, iso_z
from ticktide_common.messages import CryptoInterval
from ticktide_common.settings import CRYPTO_INTERVALS
from ticktide_gateway.aggregate_paths import BUCKET_ORIGIN, bucket_ceil
from ticktide_gateway.schemas import ResponseModel
from ticktide_gateway.validation import InvalidQuery, Symbol, Timestamp, as_utc

__all__ = [
    "INTERVAL_STEPS",
    "PricesQuery",
    "SeriesQuery",
    "BackfillRequest",
    "PriceWindow",
    "resolve_price_window",
    "check_backfill_range",
    "BUCKET_STEPS",
    "DEFAULT_BUCKETS",
    "BucketsQuery",
    "bucket_window",
    "CryptoCandle",
    "CryptoPrices",
    "CryptoPriceColumns",
    "CryptoBucket",
    "CryptoAggregates",
    "StoredInterval",
    "CryptoSymbol",
    "CryptoSymbols",
    "QualityGap",
    "CryptoQuality",
]

INTERVAL_STEPS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
assert tuple(INTERVAL_STEPS) == CRYPTO_INTERVALS


class SeriesQuery(BaseModel):
    """One series: a symbol at an interval."""

    model_config = ConfigDict(extra="ignore")

    symbol: Symbol
    interval: CryptoInterval = Field("1h", description="one of 1h, 4h, 1d")


class PricesQuery(SeriesQuery):
    """`start` inclusive, `end` exclusive (default now). Without `start`, the latest
    `limit` candles before `end`; with `start` and without `limit`, the whole range.
    `before` is `end` for paging backwards: the next page of a chart that scrolls
    left is `before=<the oldest t it holds>&limit=N`."""

    start: Timestamp | None = None
    end: Timestamp | None = None
    before: Timestamp | None = Field(
        None, description="exclusive, as end (with both, the earlier): page backwards with limit"
    )
    format: Literal["rows", "columns"] = Field(
        "rows",
        description=(
            "rows: CONTRACT's candles objects; columns: one array per field "
            '({"t":[epoch seconds],"o":[...],"h","l","c","v"}), for charts'
        ),
    )
    # Checked by `resolve_price_window` against the running setting, which the served
    # document states as `maximum` (openapi_doc.SETTING_MAXIMUM).
    limit: int | None = Field(
        None,
        description="at most this many candles (1 to MAX_CANDLES_PER_REQUEST)",
        json_schema_extra={"minimum": 1, "x-ticktide-maximum-setting": "max_candles_per_request"},
    )


BUCKET_STEPS: dict[str, timedelta] = {"4h": timedelta(hours=4), "1d": timedelta(days=1)}

DEFAULT_BUCKETS = 365


class BucketsQuery(BaseModel):
    """`/api/crypto/aggregates`: buckets of the hourly candles of one symbol."""

    model_config = ConfigDict(extra="ignore")

    symbol: Symbol
    bucket: Literal["4h", "1d"] = Field("1d", description="bucket width: 4h or 1d (UTC days)")
    start: Timestamp | None = Field(
        None, description=f"inclusive; default {DEFAULT_BUCKETS} buckets before end"
    )
    end: Timestamp | None = Field(None, description="exclusive; default now (the open bucket)")


def bucket_window(
    bucket: str,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    max_buckets: int,
) -> tuple[datetime, datetime]:
    """[first, stop): bucket starts, `start` and `end` rounded up to bucket starts
    (so the bucket still open at `now` is in the default window), at most
    `max_buckets` of them; InvalidQuery otherwise."""
    step = BUCKET_STEPS[bucket]
    if end is not None:
        stop = bucket_ceil(as_utc(end), step)
    else:
        moment = as_utc(now)
        stop = moment - (moment - BUCKET_ORIGIN) % step + step
    first = bucket_ceil(as_utc(start), step) if start is not None else stop - DEFAULT_BUCKETS * step
    if first >= stop:
        raise InvalidQuery("start must be before end, at least one bucket apart; end is exclusive")
    if (stop - first) // step > max_buckets:
        raise InvalidQuery(f"range too large: more than {max_buckets} buckets; narrow start/end")
    return first, stop


class BackfillRequest(BaseModel):
    """Body of `POST /api/admin/ingest/crypto/backfill`."""

    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    interval: CryptoInterval
    start: Timestamp
    end: Timestamp


@dataclass(frozen=True)
class PriceWindow:
    """What a prices query reads: `mode` "range" reads the first `limit` candles in
    [start, end); "latest" reads the `limit` newest candles before `end`."""

    mode: Literal["range", "latest"]
    start: datetime | None
    end: datetime
    limit: int
    slots: int | None = None  # how many open times [start, end) can hold (range mode)


def _iso(value: datetime) -> str:
    return iso_z(value)


def resolve_price_window(
    *,
    interval: str,
    start: datetime | None,
    end: datetime | None,
    limit: int | None,
    now: datetime,
    default_limit: int,
    max_candles: int,
) -> PriceWindow:
    """Apply the defaults and limits of `/api/crypto/prices`, or raise InvalidQuery."""
    step = INTERVAL_STEPS[interval]
    end_utc = as_utc(end) if end is not None else now
    if limit is not None and not 1 <= limit <= max_candles:
        raise InvalidQuery(f"limit must be between 1 and {max_candles}, got {limit}")
    if start is None:
        return PriceWindow("latest", None, end_utc, limit or min(default_limit, max_candles))
    start_utc = as_utc(start)
    if start_utc >= end_utc:
        raise InvalidQuery(
            f"start ({_iso(start_utc)}) must be before end ({_iso(end_utc)}); "
            "start is inclusive, end exclusive"
        )
    slots = math.ceil((end_utc - start_utc) / step)
    if limit is None and slots > max_candles:
        raise InvalidQuery(
            f"range too large: {_iso(start_utc)} to {_iso(end_utc)} spans {slots} {interval} "
            f"candles, more than the maximum of {max_candles} per request; "
            "narrow start/end or page with limit"
        )
    return PriceWindow("range", start_utc, end_utc, limit if limit is not None else slots, slots)


def check_backfill_range(
    *,
    interval: str,
    start: datetime,
    end: datetime,
    max_candles: int,
    earliest: datetime,
    now: datetime,
    ahead: timedelta,
) -> tuple[datetime, datetime]:
    """UTC bounds of a backfill request, or InvalidQuery: start before end, at most
    `max_candles`, not before `earliest` (Binance's history) nor after `now + ahead`."""
    start_utc, end_utc = as_utc(start), as_utc(end)
    if start_utc >= end_utc:
        raise InvalidQuery(f"start ({_iso(start_utc)}) must be before end ({_iso(end_utc)})")
    slots = math.ceil((end_utc - start_utc) / INTERVAL_STEPS[interval])
    if slots > max_candles:
        raise InvalidQuery(
            f"range too large: {slots} {interval} candles requested, at most {max_candles} "
            "per backfill; split it into several requests"
        )
    try:
        check_backfill_bounds(
            start=start_utc,
            end=end_utc,
            earliest=earliest,
            now=now,
            ahead=ahead,
            source="crypto (Binance)",
            setting="CRYPTO_HISTORY_START",
        )
    except DateOutOfRange as exc:
        raise InvalidQuery(str(exc)) from exc
    return start_utc, end_utc


# Response models: what the routes answer (their bodies are pre-built bytes; these
# are declared with `responses={200: {"model": ...}}` and checked by tests/api).


class CryptoCandle(ResponseModel):
    """One candle: open time and OHLCV, JSON numbers equal to the stored digits."""

    t: datetime = Field(description="open time (UTC)")
    o: float
    h: float
    l: float  # noqa: E741 - the API's name
    c: float
    v: float


class CryptoPrices(ResponseModel):
    symbol: str
    interval: CryptoInterval
    source: str | None = Field(description="'+'-joined sources of the candles; null: none")
    candles: list[CryptoCandle]


class CryptoPriceColumns(ResponseModel):
    """`format=columns`: the same candles as `CryptoPrices`, one array per field,
    index i of every array being candle i; `t` in epoch seconds (UTC)."""

    symbol: str
    interval: CryptoInterval
    source: str | None = Field(description="'+'-joined sources of the candles; null: none")
    t: list[int] = Field(description="open times, epoch seconds")
    o: list[float]
    h: list[float]
    l: list[float]  # noqa: E741 - the API's name
    c: list[float]
    v: list[float]


class CryptoBucket(CryptoCandle):
    """A bucket of hourly candles: `t` its start, `n` the hours present."""

    n: int


class CryptoAggregates(ResponseModel):
    symbol: str
    bucket: Literal["4h", "1d"]
    start: datetime = Field(description="the first bucket's start (inclusive)")
    end: datetime = Field(description="exclusive")
    source: str | None
    candles: list[CryptoBucket]


class StoredInterval(ResponseModel):
    candles: int
    first: datetime
    last: datetime
    source: str | None


class CryptoSymbol(ResponseModel):
    symbol: str = Field(description="trading pair, e.g. BTCUSDT")
    base: str = Field(description="base asset, e.g. BTC")
    name: str
    source: str | None
    intervals: dict[str, StoredInterval] = Field(description="by interval; only stored ones")


class CryptoSymbols(ResponseModel):
    symbols: list[CryptoSymbol]


class QualityGap(ResponseModel):
    start: datetime
    end: datetime
    candles: int


class CryptoQuality(ResponseModel):
    symbol: str
    interval: CryptoInterval
    first: datetime | None
    last: datetime | None
    expected: int
    present: int
    missing: int
    refilled: int
    gaps: list[QualityGap]
