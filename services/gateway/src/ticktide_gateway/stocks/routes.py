"""User routes under `/api/stocks`: one stock's facts, its daily prices, several
stocks side by side, the latest session of every stock, and statistics. Bodies
are cached in Redis per symbol (and "every stock" for `/latest`) and dropped
when the writer stores bars of that symbol."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from ticktide_gateway.auth import GuardedRoute, current_principal
from ticktide_gateway.cache import JSON, LATEST_STOCKS, cached_json, stock_series
from ticktide_gateway.deps import CacheDep, PoolDep
from ticktide_gateway.stocks import repository as repo
from ticktide_gateway.stocks.bodies import (
    latest_body,
    multi_body,
    stats_body,
    stock_data_body,
    stock_price_columns_body,
    stock_prices_body,
)
from ticktide_gateway.stocks.schemas import (
    LatestStocks,
    LatestStocksQuery,
    MultiStockPrices,
    MultiStockQuery,
    StockData,
    StockPricesAnswer,
    StockPricesQuery,
    StockQuery,
    StockRangeQuery,
    StockStats,
    parse_symbol_list,
    stats_window,
    stock_window,
)
from ticktide_gateway.validation import as_utc, bound_text

__all__ = ["router", "find_stock", "STATS_DEFINITIONS"]

router = APIRouter(
    prefix="/api/stocks",
    tags=["stocks"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"description": "unknown symbol"}}
BAD_INPUT: Responses = {422: {"description": "bad symbol, date or range (the detail says which)"}}

PRICES_EXAMPLE = {
    "symbol": "NOKIA",
    "exchange": "OMXH",
    "source": "nasdaq-nordic",
    "prices": [{"date": "2024-01-02", "o": None, "h": 3.2, "l": 3.1, "c": 3.15, "v": 1234567}],
}
PRICE_COLUMNS_EXAMPLE = {
    "symbol": "NOKIA",
    "exchange": "OMXH",
    "source": "nasdaq-nordic",
    "date": ["2024-01-02", "2024-01-03"],
    "o": [None, None],
    "h": [3.2, 3.3],
    "l": [3.1, 3.15],
    "c": [3.15, 3.25],
    "v": [1234567, 987654],
}

STATS_DEFINITIONS = """Over the stored bars with date in [start, end) (default: all stored):

- `period_return` = last_close / first_close − 1.
- `annualized_volatility` = sample standard deviation of the daily log returns
  ln(c_t / c_{t−1}) of consecutive stored bars in range, × sqrt(252).
- `high_52w` / `low_52w` = max(high) / min(low) of the bars with date in
  (last_date − 365 days, last_date], last_date being the range's last bar (the
  52 weeks may reach back before `start`).
- `average_volume` = mean volume in range.
- `max_drawdown` = max over t of (1 − close_t / max_{s≤t} close_s), a positive
  fraction.

With fewer than 2 bars `period_return` and `annualized_volatility` are null.
Computed in SQL with window functions."""


def _unknown(symbols: list[str]) -> HTTPException:
    names = ", ".join(f"'{s}'" for s in symbols)
    noun = "symbol" if len(symbols) == 1 else "symbols"
    return HTTPException(
        404, f"unknown stock {noun} {names}; GET /api/stocks/latest lists the known ones"
    )


def _accepted(request: Request) -> str | None:
    return request.headers.get("accept-encoding")


async def find_stock(pool: PoolDep, symbol: str) -> repo.StockRow:
    """The stock of `symbol`, or 404."""
    found = await repo.find_stocks(pool, [symbol])
    if symbol not in found:
        raise _unknown([symbol])
    return found[symbol]


@router.get(
    "/data",
    summary="One stock's facts: name, exchange, currency, stored range, latest bar",
    responses={200: {"model": StockData}, **NOT_FOUND, **BAD_INPUT},
)
async def data(
    query: Annotated[StockQuery, Query()], pool: PoolDep, cache: CacheDep, request: Request
) -> Response:
    """`first_date`/`last_date`/`days` describe every stored bar; `latest` is the
    newest bar (`o` null where the exchange publishes no open), null when none."""

    async def build() -> bytes:
        stock = await find_stock(pool, query.symbol)
        summary, latest = await repo.stock_summary(pool, stock.id)
        return stock_data_body(asdict(stock), summary, repo.sources_of(summary), latest)

    series = [stock_series(query.symbol)]
    return await cached_json(
        cache, "stocks-data", series, [], build, accept_encoding=_accepted(request)
    )


@router.get(
    "/prices",
    summary="Daily bars of one stock, ordered by date (as rows, or as columns for charts)",
    responses={
        200: {
            "model": StockPricesAnswer,
            "content": {
                JSON: {
                    "examples": {
                        "rows": {"summary": "format=rows (default)", "value": PRICES_EXAMPLE},
                        "columns": {"summary": "format=columns", "value": PRICE_COLUMNS_EXAMPLE},
                    }
                }
            },
        },
        **NOT_FOUND,
        **BAD_INPUT,
    },
)
async def prices(
    query: Annotated[StockPricesQuery, Query()], pool: PoolDep, cache: CacheDep, request: Request
) -> Response:
    """`date` is the trading day (YYYY-MM-DD); `o h l c v` are JSON numbers equal to
    the stored decimals; `o` is null where the exchange publishes no open (Helsinki).
    `start` inclusive, `end` exclusive, as dates or ISO times (UTC). Without
    `end`: through the last stored day; without `start`: 365 days before `end`.
    `format=rows` (default) answers `prices`, one object per bar; `format=columns`
    answers the same bars as one list per field: `date`, `o`, `h`, `l`, `c`, `v`."""
    start = as_utc(query.start) if query.start else None
    end = as_utc(query.end) if query.end else None

    async def build() -> bytes:
        if start is not None and end is not None:
            stock_window(start, end, None)  # 422 before any lookup
        stock = await find_stock(pool, query.symbol)
        last = await repo.last_stored(pool, [stock.id]) if start is None or end is None else None
        window = stock_window(start, end, last)
        if query.format == "columns":
            columns = await repo.bar_columns(pool, stock.id, *window)
            return stock_price_columns_body(
                stock.symbol, stock.exchange, columns.values, columns.sources
            )
        bars = (await repo.bars_json(pool, [stock.id], *window)).get(stock.id)
        return stock_prices_body(
            stock.symbol,
            stock.exchange,
            bars.objects if bars else None,
            bars.sources if bars else [],
        )

    series = [stock_series(query.symbol)]
    parts = [start, end, query.format]
    return await cached_json(
        cache, "stocks-prices", series, parts, build, accept_encoding=_accepted(request)
    )


@router.get(
    "/multi",
    summary="Daily bars of several stocks (any exchanges) over one window",
    responses={
        200: {"model": MultiStockPrices},
        404: {"description": "an unknown symbol (named)"},
        422: {"description": "a malformed symbol, more than 20 symbols, bad date or range"},
    },
)
async def multi(
    query: Annotated[MultiStockQuery, Query()], pool: PoolDep, cache: CacheDep, request: Request
) -> Response:
    """`{"stocks": [<prices body of each symbol>]}` in the order asked. Default
    window: the 365 days up to the last stored day among the symbols."""
    symbols = parse_symbol_list(query.symbols)
    start = as_utc(query.start) if query.start else None
    end = as_utc(query.end) if query.end else None

    async def build() -> bytes:
        if start is not None and end is not None:
            stock_window(start, end, None)
        found = await repo.find_stocks(pool, symbols)
        unknown = [s for s in symbols if s not in found]
        if unknown:
            raise _unknown(unknown)
        ids = [found[s].id for s in symbols]
        last = await repo.last_stored(pool, ids) if start is None or end is None else None
        bars = await repo.bars_json(pool, ids, *stock_window(start, end, last))
        bodies = []
        for symbol in symbols:
            stock = found[symbol]
            one = bars.get(stock.id)
            bodies.append(
                stock_prices_body(
                    symbol, stock.exchange, one.objects if one else None, one.sources if one else []
                )
            )
        return multi_body(bodies)

    series = [stock_series(s) for s in symbols]
    return await cached_json(
        cache, "stocks-multi", series, [start, end], build, accept_encoding=_accepted(request)
    )


@router.get(
    "/latest",
    summary="The latest session of every active stock, with the change on the day",
    responses={
        200: {"model": LatestStocks},
        422: {"description": "exchange other than NASDAQ or OMXH"},
    },
)
async def latest(
    query: Annotated[LatestStocksQuery, Query()],
    pool: PoolDep,
    cache: CacheDep,
    request: Request,
) -> Response:
    """One entry per active stock (of `exchange` when given): its newest bar and
    `change` / `change_pct` (percent) against the previous stored session's close;
    null where there is no previous session, all bar fields null where nothing is
    stored yet."""

    async def build() -> bytes:
        return latest_body(query.exchange, await repo.latest_bars(pool, query.exchange))

    parts = [query.exchange]
    return await cached_json(
        cache, "stocks-latest", [LATEST_STOCKS], parts, build, accept_encoding=_accepted(request)
    )


@router.get(
    "/stats",
    summary="Return, volatility, 52-week range, volume and drawdown of one stock",
    description=STATS_DEFINITIONS,
    responses={200: {"model": StockStats}, **NOT_FOUND, **BAD_INPUT},
)
async def stats(
    query: Annotated[StockRangeQuery, Query()], pool: PoolDep, cache: CacheDep, request: Request
) -> Response:
    start = as_utc(query.start) if query.start else None
    end = as_utc(query.end) if query.end else None

    async def build() -> bytes:
        window = stats_window(start, end)
        stock = await find_stock(pool, query.symbol)
        row = await repo.stock_stats(pool, stock.id, *window)
        shown_start = bound_text(start) if start else _day_text(row["first"], timedelta(0))
        shown_end = bound_text(end) if end else _day_text(row["last"], timedelta(days=1))
        return stats_body(asdict(stock), shown_start, shown_end, row, repo.sources_of(row))

    series = [stock_series(query.symbol)]
    return await cached_json(
        cache, "stocks-stats", series, [start, end], build, accept_encoding=_accepted(request)
    )


def _day_text(value: object, plus: timedelta) -> str | None:
    return bound_text(value + plus) if isinstance(value, datetime) else None
