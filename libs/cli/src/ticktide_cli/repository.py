"""SQL of the CLI's read-only reports."""

from __future__ import annotations

import asyncpg

__all__ = [
    "series_summary",
    "recent_jobs",
    "open_gaps",
    "batch_owner",
    "backtest_batch",
    "stock_exchanges",
    "weather_location_names",
    "open_stock_gaps",
    "stock_series_summary",
    "weather_series_summary",
]

_SERIES_SUMMARY = """
SELECT c.binance_symbol AS symbol, p.interval_type AS interval, count(*) AS candles,
       min(p.datetime) AS first, max(p.datetime) AS last,
       string_agg(DISTINCT p.source, '+' ORDER BY p.source) AS sources
FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
GROUP BY c.binance_symbol, p.interval_type
ORDER BY c.binance_symbol, p.interval_type
"""

_RECENT_JOBS = """
SELECT j.id, j.kind, j.domain, j.symbol, j.interval_type, j.status, j.candles_expected, j.error,
       j.created_at, coalesce((SELECT sum(candles) FROM ingest_batches b WHERE b.job_id = j.id), 0)
           AS candles_stored
FROM ingest_jobs j ORDER BY j.created_at DESC LIMIT $1
"""

_OPEN_GAPS = """
SELECT count(*) AS gaps, coalesce(sum(g.candles), 0) AS candles
FROM crypto_gaps g JOIN cryptocurrencies c ON c.id = g.crypto_id
WHERE c.binance_symbol = $1 AND g.interval_type = $2 AND g.status = 'open'
"""


async def series_summary(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(await pool.fetch(_SERIES_SUMMARY))


async def recent_jobs(pool: asyncpg.Pool, limit: int = 10) -> list[asyncpg.Record]:
    return list(await pool.fetch(_RECENT_JOBS, limit))


async def open_gaps(pool: asyncpg.Pool, symbol: str, interval: str) -> tuple[int, int]:
    row = await pool.fetchrow(_OPEN_GAPS, symbol, interval)
    assert row is not None
    return int(row["gaps"]), int(row["candles"])


_BATCH_OWNER = """
SELECT id FROM users
WHERE is_active AND CASE WHEN $1::text IS NULL THEN user_level = 'admin'
                         ELSE lower(username) = lower($1) END
ORDER BY id LIMIT 1
"""

_BACKTEST_BATCH = """
SELECT b.strategy, b.rank_by, b.status, b.total_jobs, b.created_at,
       (SELECT count(*) FROM backtest_jobs j WHERE j.batch_id = b.id) AS done
FROM backtests b WHERE b.id = $1
"""


async def batch_owner(pool: asyncpg.Pool, username: str | None) -> int | None:
    """The named active user, or without a name the first active admin."""
    value = await pool.fetchval(_BATCH_OWNER, username)
    return int(value) if value is not None else None


async def backtest_batch(pool: asyncpg.Pool, batch_id: object) -> asyncpg.Record | None:
    return await pool.fetchrow(_BACKTEST_BATCH, batch_id)


async def stock_exchanges(pool: asyncpg.Pool) -> dict[str, str]:
    """Every known stock symbol (ours, e.g. NDA-FI) → its exchange."""
    rows = await pool.fetch("SELECT symbol, exchange FROM stocks ORDER BY symbol")
    return {row["symbol"]: row["exchange"] for row in rows}


async def weather_location_names(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT name FROM weather_locations ORDER BY name")
    return [row["name"] for row in rows]


async def open_stock_gaps(pool: asyncpg.Pool, symbol: str) -> tuple[int, int]:
    row = await pool.fetchrow(
        """SELECT count(*) AS gaps, coalesce(sum(g.sessions), 0) AS sessions
           FROM stock_gaps g JOIN stocks s ON s.id = g.stock_id
           WHERE s.symbol = $1 AND g.status = 'open'""",
        symbol,
    )
    assert row is not None
    return int(row["gaps"]), int(row["sessions"])


async def stock_series_summary(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            """SELECT s.symbol, s.exchange, count(*) AS bars, min(p.datetime) AS first,
                      max(p.datetime) AS last,
                      string_agg(DISTINCT p.source, '+' ORDER BY p.source) AS sources
               FROM stock_prices p JOIN stocks s ON s.id = p.stock_id
               GROUP BY s.symbol, s.exchange ORDER BY s.exchange, s.symbol"""
        )
    )


async def weather_series_summary(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return list(
        await pool.fetch(
            """SELECT location, count(*) AS hours, min(datetime) AS first, max(datetime) AS last,
                      string_agg(DISTINCT source, '+' ORDER BY source) AS sources
               FROM weather_historic GROUP BY location ORDER BY location"""
        )
    )
