"""User route `GET /api/performance?window=1h|24h|7d`: the gateway's request
figures per endpoint and over time (from `performance_metrics`, which
`request_metrics` writes), ingest throughput and lag per data source, and
backtest throughput, in time buckets for charts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ticktide_gateway.auth import GuardedRoute, current_principal
from ticktide_gateway.deps import PoolDep
from ticktide_gateway.performance import repository as performance_repository
from ticktide_gateway.performance.repository import BUCKET_ORIGIN, LatencyRow
from ticktide_gateway.performance.schemas import (
    BacktestBucket,
    BacktestThroughput,
    EndpointFigures,
    IngestBucket,
    IngestSource,
    Latencies,
    Performance,
    RequestBucket,
    Window,
)

__all__ = ["router", "WINDOWS", "bucket_starts"]

router = APIRouter(
    prefix="/api",
    tags=["performance"],
    dependencies=[Depends(current_principal)],
    route_class=GuardedRoute,
)

# window → (its length, the width of one bucket of its series)
WINDOWS: dict[str, tuple[timedelta, timedelta]] = {
    "1h": (timedelta(hours=1), timedelta(minutes=1)),
    "24h": (timedelta(hours=24), timedelta(minutes=15)),
    "7d": (timedelta(days=7), timedelta(hours=2)),
}
BACKTEST_NOTE = (
    "backtest_jobs does not record which worker ran a job, so throughput is for all "
    "workers together"
)


def bucket_starts(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Starts of the buckets `date_bin(step, t, BUCKET_ORIGIN)` that `[start, end]` touches."""
    first = BUCKET_ORIGIN + ((start - BUCKET_ORIGIN) // step) * step
    count = (end - first) // step + 1
    return [first + i * step for i in range(count)]


def _latencies(row: LatencyRow, minutes: float) -> Latencies:
    n = row.requests
    return Latencies(
        requests=n,
        requests_per_minute=n / minutes,
        errors_5xx=row.errors_5xx,
        errors_4xx=row.errors_4xx,
        error_rate=row.errors_5xx / n if n else None,
        client_error_rate=row.errors_4xx / n if n else None,
        p50_ms=row.p50_ms,
        p95_ms=row.p95_ms,
        p99_ms=row.p99_ms,
    )


@router.get(
    "/performance",
    summary="Request latency and errors per endpoint, ingest and backtest throughput",
    description="Over the last `window` (1h, 24h or 7d; series buckets of 1 min, 15 min, "
    "2 h). Latencies are the gateway's own measurements, in ms (percentile_cont). "
    "Ingest throughput counts the rows of the batches the writer committed for jobs "
    "of each domain; lag is the window's end minus the newest stored row's time "
    f"(a candle's, bar's or hour's start). Backtests: {BACKTEST_NOTE}.",
    responses={422: {"description": "window is not one of 1h, 24h, 7d"}},
)
async def performance(pool: PoolDep, window: Annotated[Window, Query()] = "1h") -> Performance:
    length, step = WINDOWS[window]
    end = datetime.now(UTC)
    start = end - length
    minutes = length / timedelta(minutes=1)
    buckets = bucket_starts(start, end, step)

    figures = await performance_repository.window_figures(pool, start, end, step)
    requests, ingest, backtests = figures.requests, figures.ingest, figures.backtests

    empty = LatencyRow(0, 0, 0, None, None, None)
    series = [
        RequestBucket(
            t=t,
            requests=(b := requests.buckets.get(t, empty)).requests,
            errors=b.errors_5xx,
            client_errors=b.errors_4xx,
            p95_ms=b.p95_ms,
        )
        for t in buckets
    ]
    sources = []
    for fresh in figures.freshness:
        per_bucket = ingest.get(fresh.domain, {})
        rows = sum(r for r, _ in per_bucket.values())
        sources.append(
            IngestSource(
                source=fresh.domain,
                table=fresh.table,
                rows=rows,
                batches=sum(n for _, n in per_bucket.values()),
                rows_per_minute=rows / minutes,
                last=fresh.last,
                lag_seconds=(end - fresh.last).total_seconds() if fresh.last else None,
                simulated=fresh.simulated,
                series=[
                    IngestBucket(t=t, rows=(c := per_bucket.get(t, (0, 0)))[0], batches=c[1])
                    for t in buckets
                ],
            )
        )
    jobs = [(t, backtests.get(t, (0, 0, 0))) for t in buckets]
    finished = sum(sum(counts) for _, counts in jobs)
    return Performance(
        window=window,
        start=start,
        end=end,
        bucket_seconds=int(step.total_seconds()),
        overall=_latencies(requests.total, minutes),
        endpoints=[
            EndpointFigures(endpoint=e, method=m, **_latencies(r, minutes).model_dump())
            for e, m, r in requests.endpoints
        ],
        series=series,
        ingest=sources,
        backtests=BacktestThroughput(
            per_worker=False,
            note=BACKTEST_NOTE,
            jobs=finished,
            jobs_per_minute=finished / minutes,
            series=[
                BacktestBucket(t=t, jobs=sum(c), done=c[0], failed=c[1], skipped=c[2])
                for t, c in jobs
            ],
        ),
    )
