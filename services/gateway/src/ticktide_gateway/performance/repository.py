"""Every SQL statement of `GET /api/performance`; all parameterised.

Windows are `[start, end]`; buckets are `date_bin(step, time, origin)`, so a
bucket is named by its start and the caller can lay out empty ones itself.
Request figures come from `performance_metrics` in one pass over the window
(grouping sets: per endpoint, per bucket, overall); ingest throughput from the
batches the writer committed (`ingest_batches`, by the domain of their job);
backtest throughput from the jobs that finished (`backtest_jobs`). All of it
is read in one read-only snapshot.

Percentiles are exact (`percentile_cont`), so the request figures sort the
window's rows: about a millisecond per thousand requests in the window. JIT
is off for these statements: compiling them costs more than it saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from ticktide_gateway.dashboard import repository as dashboard_repository
from ticktide_gateway.dashboard.repository import Executor, Freshness

__all__ = [
    "BUCKET_ORIGIN",
    "LatencyRow",
    "RequestFigures",
    "WindowFigures",
    "window_figures",
]

BUCKET_ORIGIN = datetime.fromisoformat("2000-01-01T00:00:00+00:00")

# GROUPING(endpoint, method, bucket) tells the sets apart: 1 = per endpoint
# (bucket aggregated away), 6 = per bucket, 7 = the whole window.
_REQUESTS = """
SELECT GROUPING(endpoint, method, bucket) AS grouping, endpoint, method, bucket,
       count(*) AS requests,
       count(*) FILTER (WHERE status_code >= 500) AS errors_5xx,
       count(*) FILTER (WHERE status_code BETWEEN 400 AND 499) AS errors_4xx,
       percentile_cont(ARRAY[0.5, 0.95, 0.99]::float8[])
           WITHIN GROUP (ORDER BY response_time_ms) AS latency
FROM (
    SELECT endpoint, method, status_code, response_time_ms,
           date_bin($3::interval, "timestamp", $4::timestamptz) AS bucket
    FROM performance_metrics
    WHERE "timestamp" >= $1 AND "timestamp" <= $2
) m
GROUP BY GROUPING SETS ((endpoint, method), (bucket), ())
"""

_INGEST = """
SELECT j.domain, date_bin($3::interval, b.stored_at, $4::timestamptz) AS bucket,
       sum(b.candles)::bigint AS rows, count(*) AS batches
FROM ingest_batches b JOIN ingest_jobs j ON j.id = b.job_id
WHERE b.stored_at >= $1 AND b.stored_at <= $2
GROUP BY 1, 2
"""

_BACKTESTS = """
SELECT date_bin($3::interval, finished_at, $4::timestamptz) AS bucket,
       count(*) FILTER (WHERE status = 'done') AS done,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'skipped') AS skipped
FROM backtest_jobs
WHERE finished_at >= $1 AND finished_at <= $2
GROUP BY 1
"""


@dataclass(frozen=True)
class LatencyRow:
    """Counts and p50/p95/p99 (ms) of one group of requests."""

    requests: int
    errors_5xx: int
    errors_4xx: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class RequestFigures:
    total: LatencyRow
    endpoints: list[tuple[str, str, LatencyRow]]  # (endpoint, method, figures)
    buckets: dict[datetime, LatencyRow]


def _latency_row(row: asyncpg.Record) -> LatencyRow:
    p50, p95, p99 = row["latency"] or (None, None, None)
    return LatencyRow(
        int(row["requests"]), int(row["errors_5xx"]), int(row["errors_4xx"]), p50, p95, p99
    )


async def _request_figures(
    db: Executor, start: datetime, end: datetime, step: timedelta
) -> RequestFigures:
    """Per endpoint and method (most requested first), per bucket, and overall."""
    rows = await db.fetch(_REQUESTS, start, end, step, BUCKET_ORIGIN)
    total = LatencyRow(0, 0, 0, None, None, None)
    endpoints: list[tuple[str, str, LatencyRow]] = []
    buckets: dict[datetime, LatencyRow] = {}
    for row in rows:
        if row["grouping"] == 7:
            total = _latency_row(row)
        elif row["grouping"] == 6:
            buckets[row["bucket"]] = _latency_row(row)
        else:
            endpoints.append((row["endpoint"], row["method"], _latency_row(row)))
    endpoints.sort(key=lambda e: (-e[2].requests, e[0], e[1]))
    return RequestFigures(total, endpoints, buckets)


async def _ingest_buckets(
    db: Executor, start: datetime, end: datetime, step: timedelta
) -> dict[str, dict[datetime, tuple[int, int]]]:
    """domain → bucket → (rows, batches) the writer committed."""
    found: dict[str, dict[datetime, tuple[int, int]]] = {}
    for r in await db.fetch(_INGEST, start, end, step, BUCKET_ORIGIN):
        found.setdefault(r["domain"], {})[r["bucket"]] = (int(r["rows"]), int(r["batches"]))
    return found


async def _backtest_buckets(
    db: Executor, start: datetime, end: datetime, step: timedelta
) -> dict[datetime, tuple[int, int, int]]:
    """bucket → (done, failed, skipped) backtest jobs that finished in it."""
    return {
        r["bucket"]: (int(r["done"]), int(r["failed"]), int(r["skipped"]))
        for r in await db.fetch(_BACKTESTS, start, end, step, BUCKET_ORIGIN)
    }


@dataclass(frozen=True)
class WindowFigures:
    requests: RequestFigures
    ingest: dict[str, dict[datetime, tuple[int, int]]]  # domain → bucket → (rows, batches)
    backtests: dict[datetime, tuple[int, int, int]]  # bucket → (done, failed, skipped)
    freshness: list[Freshness]


async def window_figures(
    pool: asyncpg.Pool, start: datetime, end: datetime, step: timedelta
) -> WindowFigures:
    """Everything of `[start, end]` in buckets of `step`, from one snapshot."""
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        await connection.execute("SET LOCAL jit = off")
        return WindowFigures(
            requests=await _request_figures(connection, start, end, step),
            ingest=await _ingest_buckets(connection, start, end, step),
            backtests=await _backtest_buckets(connection, start, end, step),
            freshness=await dashboard_repository.freshness(connection),
        )
