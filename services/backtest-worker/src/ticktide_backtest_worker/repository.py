"""Every SQL statement of the backtest worker; all parameterised.

A finished job is one transaction: its results (`ON CONFLICT DO NOTHING` on
batch, job and the params' hash: 0012) and its `backtest_jobs` row, so a redelivered job
stores nothing twice and its completion is recorded exactly once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ticktide_backtest_worker.engine.version import ENGINE_VERSION

__all__ = [
    "BatchFacts",
    "ResultRow",
    "batch_facts",
    "job_outcome",
    "load_candles",
    "store_job_results",
    "record_job",
    "job_error",
    "job_results",
    "batch_summary",
    "finish_batch",
]


@dataclass(frozen=True)
class BatchFacts:
    """What a worker needs to know of a batch before running one of its jobs."""

    created_at: float
    cancelled: bool
    rank_by: str
    total_jobs: int


@dataclass(frozen=True)
class ResultRow:
    """One backtest's outcome, JSON-safe, as it is stored."""

    params: dict[str, Any]
    metrics: dict[str, Any]
    trades: list[Any] | None
    equity: list[Any] | None


async def batch_facts(pool: asyncpg.Pool, batch_id: uuid.UUID) -> BatchFacts | None:
    row = await pool.fetchrow(
        "SELECT extract(epoch FROM created_at)::float8 AS created, cancelled_at IS NOT NULL "
        "AS cancelled, rank_by, total_jobs FROM backtests WHERE id = $1",
        batch_id,
    )
    if row is None:
        return None
    return BatchFacts(row["created"], row["cancelled"], row["rank_by"], row["total_jobs"])


async def job_outcome(pool: asyncpg.Pool, batch_id: uuid.UUID, job_id: int) -> str | None:
    value = await pool.fetchval(
        "SELECT status FROM backtest_jobs WHERE batch_id = $1 AND job_id = $2", batch_id, job_id
    )
    return str(value) if value is not None else None


async def load_candles(
    pool: asyncpg.Pool, symbol: str, interval: str, start: datetime, end: datetime
) -> list[asyncpg.Record]:
    """(epoch seconds, o, h, l, c, v) of a series in `[start, end)`, ordered by time."""
    return await pool.fetch(
        """SELECT extract(epoch FROM p.datetime)::bigint AS t, p.open_price::float8 AS o,
                  p.high_price::float8 AS h, p.low_price::float8 AS l,
                  p.close_price::float8 AS c, p.volume::float8 AS v
           FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = $1 AND p.interval_type = $2
             AND p.datetime >= $3 AND p.datetime < $4
           ORDER BY p.datetime""",
        symbol,
        interval,
        start,
        end,
    )


async def store_job_results(
    pool: asyncpg.Pool,
    batch_id: uuid.UUID,
    job_id: int,
    symbol: str,
    interval: str,
    results: Sequence[ResultRow],
) -> bool:
    """Store a job's results and mark it done, in one transaction. False when the
    job was already over (a redelivery): nothing is written then."""
    async with pool.acquire() as connection, connection.transaction():
        claimed = await connection.fetchval(
            "INSERT INTO backtest_jobs (batch_id, job_id, status) VALUES ($1, $2, 'done') "
            "ON CONFLICT DO NOTHING RETURNING job_id",
            batch_id,
            job_id,
        )
        if claimed is None:
            return False
        await connection.executemany(
            """INSERT INTO backtest_results
                   (batch_id, job_id, params, symbol, interval, metrics, trades, equity,
                    engine_version)
               VALUES ($1, $2, $3::jsonb, $4, $5, $6::jsonb, $7::jsonb, $8::jsonb, $9)
               ON CONFLICT (batch_id, job_id, params_md5) DO NOTHING""",
            [
                (
                    batch_id,
                    job_id,
                    json.dumps(r.params, sort_keys=True),
                    symbol,
                    interval,
                    json.dumps(r.metrics),
                    json.dumps(r.trades) if r.trades is not None else None,
                    json.dumps(r.equity) if r.equity is not None else None,
                    ENGINE_VERSION,
                )
                for r in results
            ],
        )
    return True


async def record_job(
    pool: asyncpg.Pool, batch_id: uuid.UUID, job_id: int, status: str, error: str | None = None
) -> bool:
    """Mark a job failed or skipped (once); False when it was already over."""
    claimed = await pool.fetchval(
        "INSERT INTO backtest_jobs (batch_id, job_id, status, error) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT DO NOTHING RETURNING job_id",
        batch_id,
        job_id,
        status,
        error,
    )
    return claimed is not None


async def job_error(pool: asyncpg.Pool, batch_id: uuid.UUID, job_id: int) -> str | None:
    """The reason a failed job was recorded with."""
    value = await pool.fetchval(
        "SELECT error FROM backtest_jobs WHERE batch_id = $1 AND job_id = $2", batch_id, job_id
    )
    return str(value) if value is not None else None


async def job_results(
    pool: asyncpg.Pool, batch_id: uuid.UUID, job_id: int
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(params, metrics) of a stored job, to announce it again after a crash."""
    rows = await pool.fetch(
        "SELECT params::text, metrics::text FROM backtest_results "
        "WHERE batch_id = $1 AND job_id = $2 ORDER BY id",
        batch_id,
        job_id,
    )
    return [(json.loads(r[0]), json.loads(r[1] or "{}")) for r in rows]


async def batch_summary(
    pool: asyncpg.Pool,
    batch_id: uuid.UUID,
    rank_by: str,
    best: int = 10,
    *,
    lower_is_better: bool = False,
) -> dict[str, Any]:
    """Counts of the batch's jobs and results, and its best results by `rank_by`."""
    counts = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'done') AS done,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  count(*) FILTER (WHERE status = 'skipped') AS skipped,
                  (SELECT count(*) FROM backtest_results r WHERE r.batch_id = $1) AS results
           FROM backtest_jobs WHERE batch_id = $1""",
        batch_id,
    )
    assert counts is not None  # an aggregate always answers one row
    # Best first: larger values, or smaller ones for a lower-is-better metric ($4).
    rows = await pool.fetch(
        """SELECT job_id, symbol, interval, params::text, metrics::text
           FROM backtest_results
           WHERE batch_id = $1 AND metrics IS NOT NULL
           ORDER BY CASE WHEN $4 THEN -(metrics ->> $2)::float8
                         ELSE (metrics ->> $2)::float8 END DESC NULLS LAST, id
           LIMIT $3""",
        batch_id,
        rank_by,
        best,
        lower_is_better,
    )
    return {
        "jobs_done": counts["done"],
        "jobs_failed": counts["failed"],
        "jobs_skipped": counts["skipped"],
        "results": counts["results"],
        "best": [
            {
                "job_id": r["job_id"],
                "symbol": r["symbol"],
                "interval": r["interval"],
                "params": json.loads(r["params"]),
                "metrics": json.loads(r["metrics"]),
            }
            for r in rows
        ],
    }


async def finish_batch(pool: asyncpg.Pool, batch_id: uuid.UUID) -> None:
    await pool.execute(
        "UPDATE backtests SET status = CASE WHEN cancelled_at IS NULL THEN 'done' "
        "ELSE 'cancelled' END, finished_at = coalesce(finished_at, now()) WHERE id = $1",
        batch_id,
    )
