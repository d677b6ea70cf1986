"""Validation of the gateway's inputs: query and body models, and the rules that
turn `start`/`end`/`limit` into the exact window a prices query reads.

Every time a request carries is a `Timestamp` (or the backtest bodies'
`ticktide_common.dates.UtcTime` it extends): ISO-8601 text only, never a number
(the document says a date-time string), converted to UTC by `to_utc`, so a value
whose UTC conversion leaves the years 1-9999 is a 422 naming the field, and
models hold UTC times only. A symbol is checked as sent against the pattern the
document shows (`SYMBOL_INPUT_PATTERN`), then upper-cased. Backfills are also
bounded by the source's history start and by now (`check_backfill_range`).

Pure: no I/O. Every rejection is an `InvalidQuery` whose message says what was
wrong and what is allowed; the app turns it into a 422 `{"detail": ...}`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from ticktide_common.dates import DateOutOfRange, UtcTime, check_backfill_bounds, iso_z, to_utc
from ticktide_common.messages import CryptoInterval
from ticktide_common.settings import CRYPTO_INTERVALS

__all__ = [
    "INTERVAL_STEPS",
    "SYMBOL_PATTERN",
    "SYMBOL_INPUT_PATTERN",
    "Symbol",
    "Timestamp",
    "InvalidQuery",
    "PricesQuery",
    "SeriesQuery",
    "BackfillRequest",
    "PriceWindow",
    "resolve_price_window",
    "check_backfill_range",
    "as_utc",
]

INTERVAL_STEPS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
assert tuple(INTERVAL_STEPS) == CRYPTO_INTERVALS

SYMBOL_PATTERN = r"^[A-Z0-9]{2,20}$"  # a symbol as stored and answered
# What a request may send: the same, in either case, with spaces around. The raw
# input is checked against this (so the OpenAPI document carries the pattern that
# is enforced), then normalised to SYMBOL_PATTERN by `_normalised`; being ASCII,
# upper-casing cannot turn a refused input into an accepted one ("ß" -> "SS").
SYMBOL_INPUT_PATTERN = r"^ *[A-Za-z0-9]{2,20} *$"


class InvalidQuery(ValueError):
    """A request that is well-formed but asks for something not allowed."""


def _normalised(value: str) -> str:
    return value.strip(" ").upper()


def _plus_restored(value: object) -> object:
    # An unencoded "+00:00" in a query string arrives as " 00:00"; take it back.
    if isinstance(value, str) and len(value) > 19 and value[-6] == " " and value[-3] == ":":
        return f"{value[:-6]}+{value[-5:]}"
    return value


# Constraints before the validator: pydantic then applies the pattern to the str
# itself and keeps it in the JSON schema (after a BeforeValidator it would check it
# but leave it out of the document).
Symbol = Annotated[
    str,
    Field(
        pattern=SYMBOL_INPUT_PATTERN,
        description="trading pair (case-insensitive), e.g. BTCUSDT",
        examples=["BTCUSDT"],
    ),
    AfterValidator(_normalised),
]
Timestamp = Annotated[
    UtcTime,
    BeforeValidator(_plus_restored),
    Field(
        description="ISO-8601 (UTC when no offset is given) or a date (YYYY-MM-DD); "
        "its UTC value must lie in 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z"
    ),
]


def as_utc(value: datetime) -> datetime:
    """Naive times are UTC; aware ones are converted to UTC. ValueError (a 422 in
    a model's validator) when the UTC value leaves the years 1-9999."""
    return to_utc(value)


class SeriesQuery(BaseModel):
    """One series: a symbol at an interval."""

    model_config = ConfigDict(extra="ignore")

    symbol: Symbol
    interval: CryptoInterval = Field("1h", description="one of 1h, 4h, 1d")


class PricesQuery(SeriesQuery):
    """`start` inclusive, `end` exclusive (default now). Without `start`, the latest
    `limit` candles before `end`; with `start` and without `limit`, the whole range."""

    start: Timestamp | None = None
    end: Timestamp | None = None
    # Checked by `resolve_price_window` against the running setting, which the served
    # document states as `maximum` (openapi_doc.SETTING_MAXIMUM).
    limit: int | None = Field(
        None,
        description="at most this many candles (1 to MAX_CANDLES_PER_REQUEST)",
        json_schema_extra={"minimum": 1, "x-ticktide-maximum-setting": "max_candles_per_request"},
    )


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
