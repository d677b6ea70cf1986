"""Every SQL statement of `GET /api/dashboard` (and the data freshness that
`GET /api/performance` reports as lag); all parameterised.

Each answer is a few index probes, whatever the size of the tables: the latest
row of a series is the first entry of its (series, datetime DESC) index, the
row 24 h or one session before it one more probe, and the newest row of a table
the end of its datetime index.

The series lookups say `id >= x AND id <= x` and order by the id as well: with
a plain `id = x` the planner may walk the table's (datetime) index backwards
and filter by series instead, which for a series with no rows (a pair just
added) reads the whole index. The id's range keeps the ordering only the series
index can give, so that is the one it uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = [
    "Executor",
    "Freshness",
    "crypto_latest",
    "stocks_latest",
    "weather_current",
    "freshness",
    "FRESHNESS_TABLES",
]

Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy

# The newest 1h candle of each active pair and the candle exactly 24 h before it
# (none when that hour is missing: the change is then unknown, not guessed).
_CRYPTO_LATEST = """
SELECT c.binance_symbol AS symbol, c.symbol AS base, c.name, l.datetime AS t,
       l.close_price::float8 AS price, d.close_price::float8 AS price_24h_ago,
       CASE WHEN d.close_price <> 0
            THEN ((l.close_price - d.close_price) / d.close_price * 100)::float8 END
           AS change_24h_pct,
       l.source
FROM cryptocurrencies c
LEFT JOIN LATERAL (
    SELECT datetime, close_price, source FROM crypto_prices p
    WHERE p.crypto_id >= c.id AND p.crypto_id <= c.id AND p.interval_type = '1h'
    ORDER BY p.crypto_id, p.datetime DESC LIMIT 1
) l ON true
LEFT JOIN LATERAL (
    SELECT close_price FROM crypto_prices p
    WHERE p.crypto_id = c.id AND p.interval_type = '1h'
      AND p.datetime = l.datetime - interval '24 hours'
) d ON true
WHERE c.is_active
ORDER BY c.binance_symbol
"""

# The newest daily bar of each active stock and the session before it.
_STOCKS_LATEST = """
SELECT s.symbol, s.name, s.exchange, s.currency, l.datetime AS t,
       l.close_price::float8 AS price, prev.close_price::float8 AS previous_close,
       CASE WHEN prev.close_price <> 0
            THEN ((l.close_price - prev.close_price) / prev.close_price * 100)::float8 END
           AS change_pct,
       l.source
FROM stocks s
LEFT JOIN LATERAL (
    SELECT datetime, close_price, source FROM stock_prices p
    WHERE p.stock_id >= s.id AND p.stock_id <= s.id
    ORDER BY p.stock_id, p.datetime DESC LIMIT 1
) l ON true
LEFT JOIN LATERAL (
    SELECT close_price FROM stock_prices p
    WHERE p.stock_id >= s.id AND p.stock_id <= s.id AND p.datetime < l.datetime
    ORDER BY p.stock_id, p.datetime DESC LIMIT 1
) prev ON true
WHERE s.is_active
ORDER BY s.exchange, s.symbol
"""

_WEATHER_CURRENT = """
SELECT w.name AS location, o.datetime AS t, o.temperature, o.humidity, o.pressure,
       o.wind_speed, o.description, o.source
FROM weather_locations w
LEFT JOIN LATERAL (
    SELECT datetime, temperature, humidity, pressure, wind_speed, description, source
    FROM weather_current c WHERE c.location = w.name
    ORDER BY c.datetime DESC LIMIT 1
) o ON true
WHERE w.is_active
ORDER BY w.name
"""

# The newest time of each data table, and whether any row at that time is
# simulated (rows of one time: one per series, a handful of index entries).
_FRESHNESS = """
SELECT 'crypto' AS domain, n.last,
       EXISTS (SELECT 1 FROM crypto_prices p
               WHERE p.datetime = n.last AND p.source = 'simulated') AS simulated
FROM (SELECT max(datetime) AS last FROM crypto_prices) n
UNION ALL
SELECT 'stocks', n.last,
       EXISTS (SELECT 1 FROM stock_prices p WHERE p.datetime = n.last AND p.source = 'simulated')
FROM (SELECT max(datetime) AS last FROM stock_prices) n
UNION ALL
SELECT 'weather', n.last,
       EXISTS (SELECT 1 FROM weather_historic p
               WHERE p.datetime = n.last AND p.source = 'simulated')
FROM (SELECT max(datetime) AS last FROM weather_historic) n
"""


@dataclass(frozen=True)
class Freshness:
    """The newest stored time of one domain's table, and whether it is simulated."""

    domain: str
    table: str
    last: datetime | None
    simulated: bool


FRESHNESS_TABLES = {
    "crypto": "crypto_prices",
    "stocks": "stock_prices",
    "weather": "weather_historic",
}


async def crypto_latest(db: Executor) -> list[asyncpg.Record]:
    """One row per active pair, ordered by symbol; price columns NULL without 1h candles."""
    return await db.fetch(_CRYPTO_LATEST)


async def stocks_latest(db: Executor) -> list[asyncpg.Record]:
    """One row per active stock, by exchange then symbol; NULLs without bars."""
    return await db.fetch(_STOCKS_LATEST)


async def weather_current(db: Executor) -> list[asyncpg.Record]:
    """The newest current observation of each active location (NULLs without one)."""
    return await db.fetch(_WEATHER_CURRENT)


async def freshness(db: Executor) -> list[Freshness]:
    """Crypto, stocks, weather (hourly history), in that order."""
    found = {r["domain"]: r for r in await db.fetch(_FRESHNESS)}
    return [
        Freshness(domain, table, found[domain]["last"], found[domain]["simulated"])
        for domain, table in FRESHNESS_TABLES.items()
    ]
