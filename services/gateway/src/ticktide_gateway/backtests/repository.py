"""Every SQL statement of the gateway's backtest routes; all parameterised."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

__all__ = [
    "series_candle_counts",
    "insert_batch",
    "owned_batch",
    "batch_results",
    "cancel_batch",
    "job_errors",
    "run_result",
    "list_batches",
]

# The page's batches first (the index gives them in order, bound included), then
# their job counts: only a page's worth of batches is ever counted.
_BATCH_LIST = """
WITH page AS (
    SELECT id, created_at, finished_at, status, strategy, total_jobs, total_backtests,
           (request -> 'symbols')::text AS symbols, (request -> 'intervals')::text AS intervals
    FROM backtests
    WHERE user_id = $1 {bound}
    ORDER BY created_at DESC, id DESC
    LIMIT $2
)
SELECT page.*, j.jobs_done, j.jobs_failed, j.jobs_skipped
FROM page
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE status = 'done') AS jobs_done,
           count(*) FILTER (WHERE status = 'failed') AS jobs_failed,
           count(*) FILTER (WHERE status = 'skipped') AS jobs_skipped
    FROM backtest_jobs WHERE batch_id = page.id
) j
ORDER BY page.created_at DESC, page.id DESC
"""
# One statement per shape, so that a generic plan never has to cover both.
_FIRST_PAGE = _BATCH_LIST.format(bound="")  # noqa: S608 - constants only
_NEXT_PAGE = _BATCH_LIST.format(bound="AND (created_at, id) < ($3, $4)")  # noqa: S608
_RUNNING_PAGE = _BATCH_LIST.format(bound="AND status = 'queued'")  # noqa: S608

Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy


async def series_candle_counts(
    pool: asyncpg.Pool, symbols: list[str], intervals: list[str], start: datetime, end: datetime
) -> dict[tuple[str, str], int]:
    """Candles stored in `[start, end)` per (symbol, interval); unknown symbols absent."""
    rows = await pool.fetch(
        """SELECT c.binance_symbol, i.interval, (
                  SELECT count(*) FROM crypto_prices p
                  WHERE p.crypto_id = c.id AND p.interval_type = i.interval
                    AND p.datetime >= $3 AND p.datetime < $4) AS candles
           FROM cryptocurrencies c CROSS JOIN unnest($2::text[]) AS i(interval)
           WHERE c.binance_symbol = ANY($1::text[])""",
        symbols,
        intervals,
        start,
        end,
    )
    return {(r["binance_symbol"], r["interval"]): int(r["candles"]) for r in rows}


async def insert_batch(
    pool: asyncpg.Pool,
    *,
    batch_id: uuid.UUID,
    user_id: int,
    request: dict[str, Any],
    strategy: str,
    rank_by: str,
    total_jobs: int,
    total_backtests: int,
    strategy_id: int | None = None,
    strategy_version: int | None = None,
) -> None:
    await pool.execute(
        """INSERT INTO backtests (id, user_id, request, strategy, rank_by, total_jobs,
                                  total_backtests, strategy_id, strategy_version)
           VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9)""",
        batch_id,
        user_id,
        json.dumps(request),
        strategy,
        rank_by,
        total_jobs,
        total_backtests,
        strategy_id,
        strategy_version,
    )


async def owned_batch(
    pool: asyncpg.Pool, batch_id: uuid.UUID, user_id: int
) -> asyncpg.Record | None:
    """The batch with its job counts, if `user_id` owns it."""
    return await pool.fetchrow(
        """SELECT b.id, b.status, b.strategy, b.rank_by, b.request::text AS request,
                  b.total_jobs, b.total_backtests, b.created_at, b.finished_at, b.cancelled_at,
                  count(j.job_id) FILTER (WHERE j.status = 'done') AS jobs_done,
                  count(j.job_id) FILTER (WHERE j.status = 'failed') AS jobs_failed,
                  count(j.job_id) FILTER (WHERE j.status = 'skipped') AS jobs_skipped
           FROM backtests b LEFT JOIN backtest_jobs j ON j.batch_id = b.id
           WHERE b.id = $1 AND b.user_id = $2
           GROUP BY b.id""",
        batch_id,
        user_id,
    )


async def batch_results(
    pool: asyncpg.Pool, batch_id: uuid.UUID, rank_by: str, limit: int, *, lower_is_better: bool
) -> list[dict[str, Any]]:
    """The batch's results, best first by `rank_by` (smallest first if lower is better)."""
    rows = await pool.fetch(
        """SELECT job_id, symbol, interval, params::text, metrics::text
           FROM backtest_results WHERE batch_id = $1
           ORDER BY CASE WHEN $4 THEN -(metrics ->> $2)::float8
                         ELSE (metrics ->> $2)::float8 END DESC NULLS LAST, id
           LIMIT $3""",
        batch_id,
        rank_by,
        limit,
        lower_is_better,
    )
    return [
        {
            "job_id": r["job_id"],
            "symbol": r["symbol"],
            "interval": r["interval"],
            "params": json.loads(r["params"]),
            "metrics": json.loads(r["metrics"] or "null"),
        }
        for r in rows
    ]


async def job_errors(pool: asyncpg.Pool, batch_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT job_id, error FROM backtest_jobs WHERE batch_id = $1 AND status = 'failed' "
        "ORDER BY job_id",
        batch_id,
    )
    return [{"job_id": r["job_id"], "error": r["error"]} for r in rows]


async def cancel_batch(pool: asyncpg.Pool, batch_id: uuid.UUID, user_id: int) -> str | None:
    """Mark an owned batch cancelled (its remaining jobs skip); its status after, or
    None when the user owns no such batch. A finished batch stays `done`."""
    return await pool.fetchval(  # type: ignore[no-any-return]
        """UPDATE backtests
           SET cancelled_at = CASE WHEN status = 'done' THEN cancelled_at
                                   ELSE coalesce(cancelled_at, now()) END,
               status = CASE WHEN status = 'done' THEN status ELSE 'cancelled' END
           WHERE id = $1 AND user_id = $2
           RETURNING status""",
        batch_id,
        user_id,
    )


async def run_result(pool: asyncpg.Pool, batch_id: uuid.UUID) -> dict[str, Any] | None:
    """The one result of a single-backtest batch, with its trades and equity."""
    row = await pool.fetchrow(
        "SELECT metrics::text, trades::text, equity::text FROM backtest_results "
        "WHERE batch_id = $1 LIMIT 1",
        batch_id,
    )
    if row is None:
        return None
    return {
        "metrics": json.loads(row[0] or "null"),
        "trades": json.loads(row[1] or "[]"),
        "equity": json.loads(row[2] or "[]"),
    }


async def list_batches(
    pool: Executor,
    user_id: int,
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
    *,
    running: bool = False,
) -> list[asyncpg.Record]:
    """Up to `limit` of the user's batches, newest first (by created_at, then id),
    those after `before` (the (created_at, id) of the previous page's last) when
    given; only the ones still queued when `running`. Each with its job counts."""
    if running:
        return await pool.fetch(_RUNNING_PAGE, user_id, limit)
    if before is None:
        return await pool.fetch(_FIRST_PAGE, user_id, limit)
    return await pool.fetch(_NEXT_PAGE, user_id, limit, before[0], before[1])
