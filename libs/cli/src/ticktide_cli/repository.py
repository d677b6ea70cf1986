"""SQL of the CLI's read-only reports."""

from __future__ import annotations

import asyncpg

__all__ = ["series_summary", "recent_jobs", "open_gaps", "batch_owner", "backtest_batch"]

_SERIES_SUMMARY = """
SELECT c.binance_symbol AS symbol, p.interval_type AS interval, count(*) AS candles,
       min(p.datetime) AS first, max(p.datetime) AS last,
       string_agg(DISTINCT p.source, '+' ORDER BY p.source) AS sources
FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
GROUP BY c.binance_symbol, p.interval_type
ORDER BY c.binance_symbol, p.interval_type
"""

_RECENT_JOBS = """
SELECT j.id, j.kind, j.symbol, j.interval_type, j.status, j.candles_expected, j.error,
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
