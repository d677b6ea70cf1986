"""Every SQL statement of the gateway; all parameterised.

Prices leave PostgreSQL as float8 (`numeric::float8` is correctly rounded), so
the API's JSON numbers print back as the provider's decimal strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from ticktide_gateway.quality import SeriesFacts

__all__ = [
    "find_crypto_id",
    "candles_in_range",
    "latest_candles",
    "active_symbols",
    "series_facts",
    "insert_request_metrics",
    "METRICS_COLUMNS",
]

_CRYPTO_ID = "SELECT id FROM cryptocurrencies WHERE binance_symbol = $1"

_CANDLES_IN_RANGE = """
SELECT date_part('epoch', datetime)::int8, open_price::float8, high_price::float8,
       low_price::float8, close_price::float8, volume::float8, source
FROM crypto_prices
WHERE crypto_id = $1 AND interval_type = $2 AND datetime >= $3 AND datetime < $4
ORDER BY datetime
LIMIT $5
"""

_LATEST_CANDLES = """
SELECT date_part('epoch', datetime)::int8, open_price::float8, high_price::float8,
       low_price::float8, close_price::float8, volume::float8, source
FROM crypto_prices
WHERE crypto_id = $1 AND interval_type = $2 AND datetime < $3
ORDER BY datetime DESC
LIMIT $4
"""

_ACTIVE_SYMBOLS = """
SELECT c.binance_symbol, c.symbol AS base, c.name, s.interval_type, s.candles, s.first, s.last,
       s.sources
FROM cryptocurrencies c
LEFT JOIN LATERAL (
    SELECT p.interval_type, count(*) AS candles, min(p.datetime) AS first,
           max(p.datetime) AS last, array_agg(DISTINCT p.source ORDER BY p.source) AS sources
    FROM crypto_prices p
    WHERE p.crypto_id = c.id
    GROUP BY p.interval_type
) s ON true
WHERE c.is_active
ORDER BY c.binance_symbol, s.interval_type
"""

_SERIES_SUMMARY = """
SELECT min(datetime) AS first, max(datetime) AS last, count(*) AS present
FROM crypto_prices
WHERE crypto_id = $1 AND interval_type = $2
"""

_SERIES_HOLES = """
SELECT hole_start, hole_end
FROM (
    SELECT datetime + $3::interval AS hole_start,
           lead(datetime) OVER (ORDER BY datetime) AS hole_end
    FROM crypto_prices
    WHERE crypto_id = $1 AND interval_type = $2
) s
WHERE hole_end > hole_start
ORDER BY hole_start
"""

_REFILLED = """
SELECT coalesce(sum(refilled_candles), 0)
FROM crypto_gaps
WHERE crypto_id = $1 AND interval_type = $2 AND status = 'refilled'
"""

METRICS_COLUMNS = ("endpoint", "method", "response_time_ms", "status_code", "timestamp")


async def find_crypto_id(pool: asyncpg.Pool, binance_symbol: str) -> int | None:
    value = await pool.fetchval(_CRYPTO_ID, binance_symbol)
    return int(value) if value is not None else None


async def candles_in_range(pool: asyncpg.Pool, crypto_id: int, interval: str,
                           start: datetime, end: datetime, limit: int) -> list[asyncpg.Record]:
    """(t as Unix seconds, o, h, l, c, v, source) of [start, end), oldest first, at
    most `limit`. Open times are interval-aligned, so whole seconds."""
    return await pool.fetch(_CANDLES_IN_RANGE, crypto_id, interval, start, end, limit)


async def latest_candles(pool: asyncpg.Pool, crypto_id: int, interval: str,
                         end: datetime, limit: int) -> list[asyncpg.Record]:
    """The `limit` newest candles before `end`, oldest first."""
    rows = await pool.fetch(_LATEST_CANDLES, crypto_id, interval, end, limit)
    rows.reverse()
    return rows


async def active_symbols(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """One row per (active symbol, stored interval); interval NULL when none stored."""
    return await pool.fetch(_ACTIVE_SYMBOLS)


async def series_facts(pool: asyncpg.Pool, crypto_id: int, interval: str,
                       step: timedelta) -> SeriesFacts:
    async with pool.acquire() as connection, connection.transaction(isolation="repeatable_read",
                                                                     readonly=True):
        summary = await connection.fetchrow(_SERIES_SUMMARY, crypto_id, interval)
        holes = await connection.fetch(_SERIES_HOLES, crypto_id, interval, step)
        refilled = await connection.fetchval(_REFILLED, crypto_id, interval)
    assert summary is not None
    return SeriesFacts(
        first=summary["first"], last=summary["last"], present=int(summary["present"]),
        refilled=int(refilled), holes=[(r["hole_start"], r["hole_end"]) for r in holes],
    )


async def insert_request_metrics(pool: asyncpg.Pool,
                                 records: Sequence[tuple[str, str, float, int, datetime]]) -> None:
    """One COPY for a whole batch of request measurements."""
    async with pool.acquire() as connection:
        await connection.copy_records_to_table(
            "performance_metrics", records=records, columns=list(METRICS_COLUMNS)
        )
