"""Validation of the stocks and weather endpoints' inputs: query and body models,
the symbol list of `/api/stocks/multi`, and the rules that turn absent or given
`start`/`end` into the exact window a query reads.

Pure: no I/O. Rejections are `InvalidQuery` (→ 422) saying what was wrong and
what is allowed; malformed fields fail pydantic validation (→ 422 naming the
field). Windows are `[start, end)` in UTC. Times are `Timestamp`s (UTC, or a 422
when their UTC value leaves the years 1-9999); backfills are also bounded by the
source's history start and by now (`ticktide_common.dates`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ticktide_common.dates import (
    DateOutOfRange,
    UtcDate,
    check_backfill_bounds,
    day_start,
    iso_z,
)
from ticktide_common.messages import StockExchange
from ticktide_gateway.validation import InvalidQuery, Timestamp, as_utc

__all__ = [
    "MAX_MULTI_SYMBOLS",
    "DEFAULT_STOCK_DAYS",
    "DEFAULT_WEATHER_DAYS",
    "MAX_WEATHER_RANGE_DAYS",
    "StockQuery",
    "StockRangeQuery",
    "MultiStockQuery",
    "LatestStocksQuery",
    "LocationQuery",
    "HistoricWeatherQuery",
    "StocksBackfillRequest",
    "WeatherBackfillRequest",
    "STOCK_SYMBOL_INPUT_PATTERN",
    "LOCATION_INPUT_PATTERN",
    "SYMBOL_LIST_PATTERN",
    "StockSymbol",
    "LocationName",
    "parse_symbol_list",
    "stock_window",
    "stats_window",
    "weather_window",
    "check_stocks_backfill",
    "check_weather_backfill",
    "bound_text",
]

MAX_MULTI_SYMBOLS = 20
DEFAULT_STOCK_DAYS = 365
DEFAULT_WEATHER_DAYS = 7
MAX_WEATHER_RANGE_DAYS = 366

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
_SYMBOL_RULE = (
    "1 to 20 of A-Z (either case), 0-9, '.', '-' starting with a letter or digit, e.g. AAPL, NDA-FI"
)


# The exchange in either case with spaces around: checked here (the enum after it
# sees the normalised value), documented as this pattern, not as the enum, which
# would say that only the upper-case names are taken.
EXCHANGE_INPUT_PATTERN = r"^ *([Nn][Aa][Ss][Dd][Aa][Qq]|[Oo][Mm][Xx][Hh]) *$"
_EXCHANGE_INPUT_RE = re.compile(EXCHANGE_INPUT_PATTERN)


def _exchange_of(value: object) -> object:
    if isinstance(value, str) and _EXCHANGE_INPUT_RE.fullmatch(value):
        return value.strip(" ").upper()
    return value  # the enum refuses it, naming the two exchanges


def _stock_normalised(value: str) -> str:
    return value.strip(" ").upper()


def _location_normalised(value: str) -> str:
    return value.strip(" ")


# What a request may send, checked as sent (so that the OpenAPI document carries the
# pattern that is enforced: constraints placed before the AfterValidator stay in the
# schema) and then normalised: a stock symbol in either case with spaces around
# (ASCII only, so upper-casing cannot make a refused input valid: "ß" -> "SS"); a
# location with spaces around.
_STOCK_SYMBOL = r"[A-Za-z0-9][A-Za-z0-9.\-]{0,19}"
STOCK_SYMBOL_INPUT_PATTERN = rf"^ *{_STOCK_SYMBOL} *$"
LOCATION_INPUT_PATTERN = r"^ *[A-Za-z][A-Za-z .'\-]{0,63}$"
# `symbols` of /multi: 1 to MAX_MULTI_SYMBOLS symbols separated by commas, blanks
# (spaces, empty items) allowed around them; `parse_symbol_list` reads exactly this.
SYMBOL_LIST_PATTERN = (
    rf"^[ ,]*{_STOCK_SYMBOL}(?: *,[ ,]*{_STOCK_SYMBOL}){{0,{MAX_MULTI_SYMBOLS - 1}}}[ ,]*$"
)
_SYMBOL_INPUT_RE = re.compile(_STOCK_SYMBOL)

StockSymbol = Annotated[
    str,
    Field(
        pattern=STOCK_SYMBOL_INPUT_PATTERN,
        description="our stock symbol (case-insensitive), e.g. AAPL, NOKIA, NDA-FI",
        examples=["AAPL"],
    ),
    AfterValidator(_stock_normalised),
]
LocationName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=LOCATION_INPUT_PATTERN,
        description="a configured location's name, matched case-insensitively",
        examples=["Helsinki"],
    ),
    AfterValidator(_location_normalised),
]
DateOrTime = Annotated[
    Timestamp,
    Field(description="YYYY-MM-DD or an ISO-8601 time (UTC when no offset is given)"),
]


class StockQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    symbol: StockSymbol


class StockRangeQuery(StockQuery):
    """`start` inclusive, `end` exclusive."""

    start: DateOrTime | None = None
    end: DateOrTime | None = None


class MultiStockQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    # The pattern is documented, and checked by `parse_symbol_list`, whose messages
    # say which item is wrong.
    symbols: str = Field(
        max_length=MAX_MULTI_SYMBOLS * 22,
        description=f"comma-separated stock symbols (case-insensitive), 1 to {MAX_MULTI_SYMBOLS}",
        examples=["AAPL,NOKIA"],
        json_schema_extra={"pattern": SYMBOL_LIST_PATTERN},
    )
    start: DateOrTime | None = None
    end: DateOrTime | None = None


class LatestStocksQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    exchange: Annotated[
        StockExchange | None,
        BeforeValidator(_exchange_of),
        WithJsonSchema(
            {"anyOf": [{"type": "string", "pattern": EXCHANGE_INPUT_PATTERN}, {"type": "null"}]}
        ),
    ] = Field(None, description="NASDAQ or OMXH (case-insensitive); all exchanges when absent")


class LocationQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    location: LocationName


class HistoricWeatherQuery(LocationQuery):
    start: DateOrTime | None = None
    end: DateOrTime | None = None
    aggregate: Literal["daily"] | None = Field(
        None, description="'daily' for UTC-day aggregates instead of hourly observations"
    )


class StocksBackfillRequest(BaseModel):
    """Body of `POST /api/admin/ingest/stocks/backfill`: trading days in [start, end)."""

    model_config = ConfigDict(extra="forbid")

    symbol: StockSymbol
    start: UtcDate
    end: UtcDate


class WeatherBackfillRequest(BaseModel):
    """Body of `POST /api/admin/ingest/weather/backfill`: hours in [start, end)."""

    model_config = ConfigDict(extra="forbid")

    location: LocationName
    start: DateOrTime
    end: DateOrTime


def bound_text(value: datetime) -> str:
    """A window bound as the API shows it: YYYY-MM-DD at midnight, else ISO with Z."""
    utc = as_utc(value)
    if utc.time() == datetime.min.time():
        return utc.date().isoformat()
    return iso_z(utc)


def _shift(value: datetime, delta: timedelta) -> datetime:
    """`value + delta`, clamped to the representable range instead of overflowing."""
    try:
        return value + delta
    except OverflowError:
        return EARLIEST if delta < timedelta(0) else LATEST


def _check_order(start: datetime, end: datetime) -> None:
    if start >= end:
        raise InvalidQuery(
            f"start ({bound_text(start)}) must be before end ({bound_text(end)}); "
            "start is inclusive, end exclusive"
        )


def parse_symbol_list(text: str) -> list[str]:
    """`"aapl, NOKIA,AAPL"` → `["AAPL", "NOKIA"]` (order kept, repeats dropped).
    Accepts exactly the strings SYMBOL_LIST_PATTERN matches: items split on commas,
    spaces around them and blank items ignored, 1 to MAX_MULTI_SYMBOLS symbols given
    (repeats counted)."""
    given: list[str] = []
    for part in text.split(","):
        raw = part.strip(" ")
        if not raw:
            continue
        if not _SYMBOL_INPUT_RE.fullmatch(raw):
            shown = raw if len(raw) <= 30 else raw[:30] + "..."
            raise InvalidQuery(f"symbols: {shown!r} is not a stock symbol ({_SYMBOL_RULE})")
        given.append(raw.upper())
    if not given:
        raise InvalidQuery("symbols: give at least one stock symbol, e.g. symbols=AAPL,NOKIA")
    if len(given) > MAX_MULTI_SYMBOLS:
        raise InvalidQuery(f"symbols: {len(given)} given, at most {MAX_MULTI_SYMBOLS} per request")
    return list(dict.fromkeys(given))


def stock_window(
    start: datetime | None, end: datetime | None, last_stored: datetime | None
) -> tuple[datetime, datetime]:
    """The window of `/prices` and `/multi`. Given bounds are used as they are
    (start before end, or 422). Without `end`: through the last stored day. Without
    `start`: the `DEFAULT_STOCK_DAYS` days before `end`."""
    start_utc = as_utc(start) if start is not None else None
    end_utc = as_utc(end) if end is not None else None
    if start_utc is not None and end_utc is not None:
        _check_order(start_utc, end_utc)
        return start_utc, end_utc
    if end_utc is None:
        if last_stored is None:
            end_utc = _shift(start_utc or datetime.now(UTC), DAY)
        else:
            end_utc = _shift(as_utc(last_stored), DAY)
        if start_utc is not None and start_utc >= end_utc:
            return start_utc, start_utc  # nothing stored from `start` on
    if start_utc is None:
        start_utc = _shift(end_utc, -DEFAULT_STOCK_DAYS * DAY)
    return start_utc, end_utc


def stats_window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The window of `/stats`: everything stored unless bounded."""
    start_utc = as_utc(start) if start is not None else EARLIEST
    end_utc = as_utc(end) if end is not None else LATEST
    _check_order(start_utc, end_utc)
    return start_utc, end_utc


def _ceil_hour(value: datetime) -> datetime:
    floor = value.replace(minute=0, second=0, microsecond=0)
    return floor if floor == value else _shift(floor, HOUR)


def weather_window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The window of `/historic`: default the `DEFAULT_WEATHER_DAYS` days up to the
    current hour's end; at most `MAX_WEATHER_RANGE_DAYS` days."""
    start_utc = as_utc(start) if start is not None else None
    end_utc = as_utc(end) if end is not None else None
    if end_utc is None:
        end_utc = _ceil_hour(as_utc(now))
        if start_utc is not None and start_utc < end_utc:
            end_utc = min(end_utc, _shift(start_utc, MAX_WEATHER_RANGE_DAYS * DAY))
    if start_utc is None:
        start_utc = _shift(end_utc, -DEFAULT_WEATHER_DAYS * DAY)
    _check_order(start_utc, end_utc)
    if end_utc - start_utc > MAX_WEATHER_RANGE_DAYS * DAY:
        raise InvalidQuery(
            f"range too large: {bound_text(start_utc)} to {bound_text(end_utc)} is more than "
            f"{MAX_WEATHER_RANGE_DAYS} days; narrow start/end"
        )
    return start_utc, end_utc


def check_stocks_backfill(
    start: date, end: date, max_days: int, *, earliest: date, now: datetime, ahead: timedelta
) -> None:
    """Trading days `[start, end)`: ordered, at most `max_days`, not before `earliest`
    (STOCKS_HISTORY_START) nor ending after `now + ahead`; else InvalidQuery."""
    if start >= end:
        raise InvalidQuery(
            f"start ({start.isoformat()}) must be before end ({end.isoformat()}); "
            "start is inclusive, end exclusive"
        )
    days = (end - start).days
    if days > max_days:
        raise InvalidQuery(
            f"range too large: {days} days requested, at most {max_days} per backfill; "
            "split it into several requests"
        )
    _bounded(day_start(start), day_start(end), day_start(earliest), now, ahead, "stocks")


def _bounded(
    start: datetime, end: datetime, earliest: datetime, now: datetime, ahead: timedelta, what: str
) -> None:
    try:
        check_backfill_bounds(
            start=start,
            end=end,
            earliest=earliest,
            now=now,
            ahead=ahead,
            source=what,
            setting=f"{what.upper()}_HISTORY_START",
        )
    except DateOutOfRange as exc:
        raise InvalidQuery(str(exc)) from exc


def check_weather_backfill(
    start: datetime,
    end: datetime,
    max_days: int,
    *,
    earliest: date,
    now: datetime,
    ahead: timedelta,
) -> tuple[datetime, datetime]:
    """UTC bounds aligned outwards to whole hours (the history is hourly), or 422:
    ordered, at most `max_days`, not before `earliest` (WEATHER_HISTORY_START) nor
    ending after `now + ahead`."""
    start_utc = as_utc(start).replace(minute=0, second=0, microsecond=0)
    end_utc = _ceil_hour(as_utc(end))
    _check_order(start_utc, end_utc)
    if end_utc - start_utc > max_days * DAY:
        raise InvalidQuery(
            f"range too large: {bound_text(start_utc)} to {bound_text(end_utc)} is more than "
            f"{max_days} days per backfill; split it into several requests"
        )
    _bounded(start_utc, end_utc, day_start(earliest), now, ahead, "weather")
    return start_utc, end_utc
