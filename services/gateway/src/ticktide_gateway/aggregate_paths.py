"""Which way the gateway aggregates series, decided once at start-up, and the
window arithmetic both ways share.

With TimescaleDB (the extension in this database and the migrations' real-time
continuous aggregates present) daily crypto and weather come from
`crypto_prices_daily` / `weather_historic_daily` and other buckets from
`time_bucket`; without it the same numbers come from plain SQL (`date_bin`) over
the raw rows. Both leave PostgreSQL as the same text: the aggregates hold sums
and counts, and each mean is derived by one SQL expression on either path.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ticktide_common.dates import iso_z
from ticktide_gateway.serialization import json_bytes, source_label
from ticktide_gateway.validation import InvalidQuery, Symbol, Timestamp, as_utc

__all__ = [
    "BUCKET_STEPS",
    "BUCKET_ORIGIN",
    "SeriesPath",
    "PLAIN_PATH",
    "bucket_ceil",
    "full_days",
    "BucketsQuery",
    "bucket_window",
    "DEFAULT_BUCKETS",
    "buckets_body",
]

BUCKET_STEPS: dict[str, timedelta] = {"4h": timedelta(hours=4), "1d": timedelta(days=1)}
# time_bucket's default origin for these widths: buckets start at UTC midnight and
# every 4 hours from it; date_bin is given the same origin on the plain path.
BUCKET_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
DAY = timedelta(days=1)
DEFAULT_BUCKETS = 365


@dataclass(frozen=True)
class SeriesPath:
    """What this database offers; `timescaledb` alone allows `time_bucket`."""

    timescaledb: bool
    crypto_daily_aggregate: bool
    weather_daily_aggregate: bool

    def describe(self) -> str:
        if not self.timescaledb:
            return "plain PostgreSQL (date_bin over raw rows)"
        used = [
            name
            for name, present in (
                ("crypto_prices_daily", self.crypto_daily_aggregate),
                ("weather_historic_daily", self.weather_daily_aggregate),
            )
            if present
        ]
        return (
            "TimescaleDB (time_bucket; real-time aggregates: " + (", ".join(used) or "none") + ")"
        )


PLAIN_PATH = SeriesPath(
    timescaledb=False, crypto_daily_aggregate=False, weather_daily_aggregate=False
)


def bucket_ceil(value: datetime, step: timedelta) -> datetime:
    """The first bucket start at or after `value` (at the very end of year 9999,
    where no later bucket start is representable, the last one before it)."""
    offset = (value - BUCKET_ORIGIN) % step
    if not offset:
        return value
    try:
        return value - offset + step
    except OverflowError:
        return value - offset


def full_days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[first, stop): the UTC days lying wholly in [start, end), which an aggregate
    can answer; the hours of [start, end) outside them are aggregated from the raw
    rows. Empty (first == stop == start) when no whole day fits."""
    first = bucket_ceil(start, DAY)
    stop = end - (end - BUCKET_ORIGIN) % DAY
    if first >= stop:
        return start, start
    return first, stop


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


def buckets_body(
    symbol: str,
    bucket: str,
    first: datetime,
    stop: datetime,
    candles_json: str,
    sources: Iterable[str],
) -> bytes:
    """The aggregates response around `candles_json` (bucket objects joined by
    commas, as PostgreSQL wrote them)."""
    head = json_bytes(
        {
            "symbol": symbol,
            "bucket": bucket,
            "start": iso_z(first),
            "end": iso_z(stop),
            "source": source_label(sources),
        }
    )
    return b"".join((head[:-1], b',"candles":[', candles_json.encode(), b"]}"))
