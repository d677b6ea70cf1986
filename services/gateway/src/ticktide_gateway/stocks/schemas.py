"""The stocks endpoints' inputs: query and body models, the symbol list of
`/api/stocks/multi`, the rules that turn absent or given `start`/`end` into the
exact window a query reads, and the response models the document declares.

Pure: no I/O. Rejections are `InvalidQuery` (→ 422) saying what was wrong and
what is allowed; malformed fields fail pydantic validation (→ 422 naming the
field). Windows are `[start, end)` in UTC. Times are `Timestamp`s (UTC, or a 422
when their UTC value leaves the years 1-9999); backfills are also bounded by the
source's history start and by now (`ticktide_common.dates`).
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from ticktide_common.dates import (
    UtcDate,
    day_start,
)
from ticktide_common.messages import StockExchange
from ticktide_gateway.schemas import ResponseModel
from ticktide_gateway.validation import (
    DAY,
    EARLIEST,
    LATEST,
    DateOrTime,
    InvalidQuery,
    as_utc,
    check_history_bounds,
    check_order,
    shift,
)

__all__ = [
    "StockBar",
    "StockPrices",
    "StockPriceColumns",
    "StockPricesAnswer",
    "PriceFormat",
    "MultiStockPrices",
    "StockData",
    "LatestStock",
    "LatestStocks",
    "StockStats",
    "StockGap",
    "StockQuality",
    "MAX_MULTI_SYMBOLS",
    "DEFAULT_STOCK_DAYS",
    "StockQuery",
    "StockRangeQuery",
    "StockPricesQuery",
    "MultiStockQuery",
    "LatestStocksQuery",
    "StocksBackfillRequest",
    "STOCK_SYMBOL_INPUT_PATTERN",
    "SYMBOL_LIST_PATTERN",
    "StockSymbol",
    "parse_symbol_list",
    "stock_window",
    "stats_window",
    "check_stocks_backfill",
]

MAX_MULTI_SYMBOLS = 20
DEFAULT_STOCK_DAYS = 365

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


# What a request may send, checked as sent (so that the OpenAPI document carries the
# pattern that is enforced: constraints placed before the AfterValidator stay in the
# schema) and then normalised: a stock symbol in either case with spaces around
# (ASCII only, so upper-casing cannot make a refused input valid: "ß" -> "SS"); a
# location with spaces around.
_STOCK_SYMBOL = r"[A-Za-z0-9][A-Za-z0-9.\-]{0,19}"
STOCK_SYMBOL_INPUT_PATTERN = rf"^ *{_STOCK_SYMBOL} *$"
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


class StockQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    symbol: StockSymbol


class StockRangeQuery(StockQuery):
    """`start` inclusive, `end` exclusive."""

    start: DateOrTime | None = None
    end: DateOrTime | None = None


PriceFormat = Literal["rows", "columns"]


class StockPricesQuery(StockRangeQuery):
    format: PriceFormat = Field(
        "rows",
        description=(
            "`rows` (default): `prices`, one object per bar; `columns`: one list per "
            "bar field (`date`, `o`, `h`, `l`, `c`, `v`), index i of every list being "
            "the i-th bar, the same values as `rows` (for charts: no repeated names)"
        ),
    )


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


class StocksBackfillRequest(BaseModel):
    """Body of `POST /api/admin/ingest/stocks/backfill`: trading days in [start, end)."""

    model_config = ConfigDict(extra="forbid")

    symbol: StockSymbol
    start: UtcDate
    end: UtcDate


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
        check_order(start_utc, end_utc)
        return start_utc, end_utc
    if end_utc is None:
        if last_stored is None:
            end_utc = shift(start_utc or datetime.now(UTC), DAY)
        else:
            end_utc = shift(as_utc(last_stored), DAY)
        if start_utc is not None and start_utc >= end_utc:
            return start_utc, start_utc  # nothing stored from `start` on
    if start_utc is None:
        start_utc = shift(end_utc, -DEFAULT_STOCK_DAYS * DAY)
    return start_utc, end_utc


def stats_window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """The window of `/stats`: everything stored unless bounded."""
    start_utc = as_utc(start) if start is not None else EARLIEST
    end_utc = as_utc(end) if end is not None else LATEST
    check_order(start_utc, end_utc)
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
    check_history_bounds(
        day_start(start), day_start(end), day_start(earliest), now, ahead, "stocks"
    )


# Response models: what the routes answer (pre-built bytes, declared with
# `responses={200: {"model": ...}}` and checked by tests/api).


class StockBar(ResponseModel):
    """One daily bar; `o` null where the exchange publishes no open (Helsinki)."""

    date: dt.date = Field(description="the trading day")
    o: float | None
    h: float
    l: float  # noqa: E741 - the API's name
    c: float
    v: float


class StockPrices(ResponseModel):
    symbol: str
    exchange: StockExchange
    source: str | None = Field(description="'+'-joined sources of the bars; null: none")
    prices: list[StockBar]


class StockPriceColumns(ResponseModel):
    """`format=columns`: the bars field by field, oldest first, every list as long."""

    symbol: str
    exchange: StockExchange
    source: str | None = Field(description="'+'-joined sources of the bars; null: none")
    date: list[dt.date] = Field(description="the trading days")
    o: list[float | None] = Field(description="null where the exchange publishes no open")
    h: list[float]
    l: list[float]  # noqa: E741 - the API's name
    c: list[float]
    v: list[float]


StockPricesAnswer = StockPrices | StockPriceColumns


class MultiStockPrices(ResponseModel):
    stocks: list[StockPrices] = Field(description="one prices body per symbol, in the order asked")


class StockData(ResponseModel):
    symbol: str
    name: str
    exchange: StockExchange
    currency: str
    source: str | None
    first_date: dt.date | None
    last_date: dt.date | None
    days: int
    latest: StockBar | None = Field(description="the newest bar; null when none is stored")


class LatestStock(ResponseModel):
    """A stock's newest bar (all bar fields null when nothing is stored) and its change
    against the previous stored session's close (null without one)."""

    symbol: str
    name: str
    exchange: StockExchange
    currency: str
    date: dt.date | None
    o: float | None
    h: float | None
    l: float | None  # noqa: E741 - the API's name
    c: float | None
    v: float | None
    change: float | None
    change_pct: float | None = Field(description="percent")
    source: str | None


class LatestStocks(ResponseModel):
    exchange: StockExchange | None
    source: str | None
    stocks: list[LatestStock]


class StockStats(ResponseModel):
    symbol: str
    exchange: StockExchange
    source: str | None
    start: str | None = Field(description="YYYY-MM-DD, or an ISO time as given")
    end: str | None = Field(description="YYYY-MM-DD, or an ISO time as given (exclusive)")
    days: int
    first_close: float | None
    last_close: float | None
    period_return: float | None
    annualized_volatility: float | None
    high_52w: float | None
    low_52w: float | None
    average_volume: float | None
    max_drawdown: float | None


class StockGap(ResponseModel):
    start: dt.date = Field(description="first missing session")
    end: dt.date = Field(description="last missing session (inclusive)")
    sessions: int
    status: Literal["open", "refilled"]
    refill_attempts: int
    detected_at: datetime
    last_attempt_at: datetime | None
    refilled_at: datetime | None


class StockQuality(ResponseModel):
    symbol: str
    exchange: StockExchange
    open: int = Field(description="missing sessions not refilled yet")
    refilled: int
    gaps: list[StockGap]
