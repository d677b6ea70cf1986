"""Every SQL statement of the gateway's stock endpoints; all parameterised.

Bars leave PostgreSQL as ready JSON text whose numbers are the stored numeric
digits (as crypto candles do), `o` null where the exchange publishes no open:
as one object per bar, or (`format=columns`) as one list of values per field.
Statistics are computed in SQL with window functions (see `stock_stats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import asyncpg

from ticktide_common.messages import StockExchange

__all__ = [
    "STOCK_SOURCES",
    "StockRow",
    "BarsJson",
    "BarColumns",
    "COLUMN_FIELDS",
    "sources_of",
    "find_stocks",
    "last_stored",
    "bars_json",
    "bar_columns",
    "stock_summary",
    "latest_bars",
    "stock_stats",
    "stock_gaps",
]

# The table's CHECK allows exactly these; three bool_or cost nothing next to a DISTINCT.
STOCK_SOURCES = ("nasdaq", "nasdaq-nordic", "simulated")
_SOURCE_FLAGS = """
       coalesce(bool_or(source = 'nasdaq'), false) AS from_nasdaq,
       coalesce(bool_or(source = 'nasdaq-nordic'), false) AS from_nordic,
       coalesce(bool_or(source = 'simulated'), false) AS from_simulated"""

_BAR_JSON = """concat(
    '{"date":"', to_char(datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
    '","o":', coalesce(open_price::text, 'null'), ',"h":', high_price, ',"l":', low_price,
    ',"c":', close_price, ',"v":', volume, '}')"""


@dataclass(frozen=True)
class StockRow:
    id: int
    symbol: str
    name: str
    exchange: StockExchange
    currency: str


@dataclass(frozen=True)
class BarsJson:
    """`{"date":…,"o":…}` objects joined by commas (no brackets), and their sources."""

    objects: str
    sources: list[str]


# The fields of a bar, in the order of the default shape's objects.
COLUMN_FIELDS = ("date", "o", "h", "l", "c", "v")


@dataclass(frozen=True)
class BarColumns:
    """Each field's values (`COLUMN_FIELDS`) as JSON texts joined by commas (no
    brackets), oldest bar first, all the same length; and the bars' sources."""

    values: dict[str, str]
    sources: list[str]


def sources_of(row: asyncpg.Record) -> list[str]:
    flags = (row["from_nasdaq"], row["from_nordic"], row["from_simulated"])
    return [name for name, present in zip(STOCK_SOURCES, flags, strict=True) if present]


_FIND_STOCKS = """
SELECT id, symbol, name, exchange, currency FROM stocks WHERE symbol = ANY($1::text[])
"""

_LAST_STORED = """
SELECT max(last.datetime)
FROM unnest($1::int[]) AS ids(stock_id)
CROSS JOIN LATERAL (
    SELECT datetime FROM stock_prices p WHERE p.stock_id = ids.stock_id
    ORDER BY datetime DESC LIMIT 1
) last
"""

_BARS = f"""
SELECT stock_id, string_agg({_BAR_JSON}, ',' ORDER BY datetime) AS bars, {_SOURCE_FLAGS}
FROM stock_prices
WHERE stock_id = ANY($1::int[]) AND datetime >= $2 AND datetime < $3
GROUP BY stock_id
"""  # noqa: S608 - constants only

# The same texts as _BAR_JSON writes, one aggregate per field (each sorts its
# input by datetime; a year of daily bars is a few hundred rows).
_COLUMNS = f"""
SELECT string_agg('"' || to_char(datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '"', ','
                  ORDER BY datetime) AS date,
       string_agg(coalesce(open_price::text, 'null'), ',' ORDER BY datetime) AS o,
       string_agg(high_price::text, ',' ORDER BY datetime) AS h,
       string_agg(low_price::text, ',' ORDER BY datetime) AS l,
       string_agg(close_price::text, ',' ORDER BY datetime) AS c,
       string_agg(volume::text, ',' ORDER BY datetime) AS v,
       {_SOURCE_FLAGS}
FROM stock_prices
WHERE stock_id = $1 AND datetime >= $2 AND datetime < $3
"""  # noqa: S608 - constants only

_SUMMARY = f"""
SELECT min(datetime) AS first, max(datetime) AS last, count(*) AS days, {_SOURCE_FLAGS}
FROM stock_prices WHERE stock_id = $1
"""  # noqa: S608 - constants only

_LATEST_BAR = f"""
SELECT {_BAR_JSON} AS bar FROM stock_prices WHERE stock_id = $1 ORDER BY datetime DESC LIMIT 1
"""  # noqa: S608 - constants only

_LATEST_BARS = """
SELECT s.symbol, s.name, s.exchange, s.currency, l.datetime, l.open_price, l.high_price,
       l.low_price, l.close_price, l.volume, l.source, prev.close_price AS previous_close
FROM stocks s
LEFT JOIN LATERAL (
    SELECT datetime, open_price, high_price, low_price, close_price, volume, source
    FROM stock_prices p WHERE p.stock_id = s.id ORDER BY datetime DESC LIMIT 1
) l ON true
LEFT JOIN LATERAL (
    SELECT close_price FROM stock_prices p
    WHERE p.stock_id = s.id AND p.datetime < l.datetime ORDER BY datetime DESC LIMIT 1
) prev ON true
WHERE s.is_active AND ($1::text IS NULL OR s.exchange = $1)
ORDER BY s.exchange, s.symbol
"""

# One pass of window functions over the bars in range: the previous close (for
# log returns), the running peak of the close (for drawdowns) and the first and
# last close. The 52-week extremes look back from the range's last bar.
_STATS = f"""
WITH bars AS (
    SELECT datetime, close_price, volume, source,
           close_price::float8 AS c,
           lag(close_price::float8) OVER w AS previous_c,
           max(close_price::float8) OVER (w ROWS UNBOUNDED PRECEDING) AS peak_c,
           first_value(close_price) OVER w AS first_close,
           last_value(close_price) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING
                                           AND UNBOUNDED FOLLOWING) AS last_close
    FROM stock_prices
    WHERE stock_id = $1 AND datetime >= $2 AND datetime < $3
    WINDOW w AS (ORDER BY datetime)
), summary AS (
    SELECT count(*) AS days, min(datetime) AS first, max(datetime) AS last,
           min(first_close) AS first_close, min(last_close) AS last_close,
           stddev_samp(CASE WHEN c > 0 AND previous_c > 0 THEN ln(c / previous_c) END)
               * sqrt(252.0) AS annualized_volatility,
           avg(volume) AS average_volume,
           max(1 - c / nullif(peak_c, 0)) AS max_drawdown,
           {_SOURCE_FLAGS}
    FROM bars
)
SELECT summary.*, year.high_52w, year.low_52w
FROM summary
LEFT JOIN LATERAL (
    SELECT max(high_price) AS high_52w, min(low_price) AS low_52w
    FROM stock_prices
    WHERE stock_id = $1 AND datetime > summary.last - interval '365 days'
      AND datetime <= summary.last
) year ON true
"""  # noqa: S608 - constants only

_GAPS = """
SELECT gap_start, gap_end, sessions, status, refill_attempts, detected_at, last_attempt_at,
       refilled_at
FROM stock_gaps WHERE stock_id = $1
ORDER BY gap_start
"""


async def find_stocks(pool: asyncpg.Pool, symbols: Sequence[str]) -> dict[str, StockRow]:
    """The stocks table's rows of these symbols, by symbol (absent when unknown)."""
    rows = await pool.fetch(_FIND_STOCKS, list(symbols))
    return {
        r["symbol"]: StockRow(
            r["id"], r["symbol"], r["name"], cast(StockExchange, r["exchange"]), r["currency"]
        )
        for r in rows
    }


async def last_stored(pool: asyncpg.Pool, stock_ids: Sequence[int]) -> datetime | None:
    """The newest stored bar's date among these stocks."""
    value = await pool.fetchval(_LAST_STORED, list(stock_ids))
    return value  # type: ignore[no-any-return]


async def bars_json(
    pool: asyncpg.Pool, stock_ids: Sequence[int], start: datetime, end: datetime
) -> dict[int, BarsJson]:
    """Bars of [start, end) of each stock, oldest first (stocks without bars absent)."""
    rows = await pool.fetch(_BARS, list(stock_ids), start, end)
    return {r["stock_id"]: BarsJson(r["bars"], sources_of(r)) for r in rows}


async def bar_columns(
    pool: asyncpg.Pool, stock_id: int, start: datetime, end: datetime
) -> BarColumns:
    """The bars of [start, end) of one stock, field by field (empty texts when none)."""
    row = await pool.fetchrow(_COLUMNS, stock_id, start, end)
    assert row is not None
    return BarColumns({f: row[f] or "" for f in COLUMN_FIELDS}, sources_of(row))


async def stock_summary(pool: asyncpg.Pool, stock_id: int) -> tuple[asyncpg.Record, str | None]:
    """(first, last, days and source flags of every stored bar; the newest bar as JSON)."""
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        summary = await connection.fetchrow(_SUMMARY, stock_id)
        latest = await connection.fetchval(_LATEST_BAR, stock_id)
    assert summary is not None
    return summary, latest


async def latest_bars(pool: asyncpg.Pool, exchange: str | None) -> list[asyncpg.Record]:
    """One row per active stock (bar columns NULL when nothing is stored)."""
    return await pool.fetch(_LATEST_BARS, exchange)


async def stock_stats(
    pool: asyncpg.Pool, stock_id: int, start: datetime, end: datetime
) -> asyncpg.Record:
    row = await pool.fetchrow(_STATS, stock_id, start, end)
    assert row is not None
    return row


async def stock_gaps(pool: asyncpg.Pool, stock_id: int) -> list[asyncpg.Record]:
    return await pool.fetch(_GAPS, stock_id)
