"""Submitting a batch: validate everything up front, store it, split it into
jobs, announce `queued`, publish the jobs (each confirmed by the broker).

Every rejection is an `InvalidQuery` (422) or `UnknownSymbol` (404) whose
message names what was wrong, raised before anything is stored.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from ticktide_backtest_worker.engine import GridError, expand_grid
from ticktide_backtest_worker.events import BatchEventLog
from ticktide_common.bus import Bus
from ticktide_common.logging import get_logger
from ticktide_common.messages import BacktestJobV1
from ticktide_common.settings import Settings
from ticktide_gateway.backtest import repository
from ticktide_gateway.backtest.planning import BacktestBatchRequest, plan_jobs
from ticktide_gateway.deps import UnknownSymbol
from ticktide_gateway.validation import InvalidQuery

__all__ = ["SubmittedBatch", "submit_batch", "expand_checked"]

log = get_logger(__name__)

_PUBLISH_CONCURRENCY = 32


@dataclass(frozen=True)
class SubmittedBatch:
    batch_id: uuid.UUID
    jobs: int
    backtests: int

    def body(self) -> dict[str, Any]:
        return {
            "batch_id": str(self.batch_id),
            "jobs": self.jobs,
            "backtests": self.backtests,
            "events_url": f"/api/crypto/backtest/batch/{self.batch_id}/events",
        }


def expand_checked(strategy: str, grid: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    try:
        param_sets = expand_grid(strategy, grid, limit)
    except GridError as exc:
        raise InvalidQuery(str(exc)) from None
    if not param_sets:
        raise InvalidQuery(
            f"the grid has no valid parameter combination for {strategy!r} "
            "(every combination was empty or infeasible, e.g. fast >= slow)"
        )
    return param_sets


async def _check_series(pool: asyncpg.Pool, request: BacktestBatchRequest) -> None:
    """Every symbol known, every series with candles in the range (and, for a
    walk-forward, more than one train window of them)."""
    counts = await repository.series_candle_counts(
        pool, request.symbols, list(request.intervals), request.start, request.end
    )
    known = {symbol for symbol, _ in counts}
    for symbol in request.symbols:
        if symbol not in known:
            raise UnknownSymbol(symbol)
    empty = [f"{s} {i}" for s in request.symbols for i in request.intervals if not counts[(s, i)]]
    if empty:
        raise InvalidQuery(
            f"no candles stored in [{request.start.isoformat()}, {request.end.isoformat()}) "
            f"for {', '.join(empty)}; backfill them first or pick another range"
        )
    if request.walk_forward is not None:
        train = request.walk_forward.train_bars
        short = [f"{s} {i} ({counts[(s, i)]})" for s, i in counts if counts[(s, i)] <= train]
        if short:
            raise InvalidQuery(
                f"walk_forward.train_bars={train} leaves no test window: these series have "
                f"only that many candles in the range: {', '.join(sorted(short))}"
            )


async def submit_batch(
    request: BacktestBatchRequest,
    *,
    user_id: int,
    pool: asyncpg.Pool,
    bus: Bus,
    events: BatchEventLog,
    settings: Settings,
    details: bool = False,
) -> SubmittedBatch:
    series = len(request.symbols) * len(request.intervals)
    combos_allowed = max(settings.backtest_max_combinations // series, 1)
    try:
        param_sets = expand_checked(request.strategy, request.engine_grid(), combos_allowed)
    except InvalidQuery as exc:
        if series > 1 and "combinations" in str(exc):
            raise InvalidQuery(
                f"{exc}: a batch runs at most {settings.backtest_max_combinations} backtests, "
                f"here {combos_allowed} per series for {series} symbol × interval series"
            ) from None
        raise
    await _check_series(pool, request)
    jobs = plan_jobs(
        request.symbols,
        list(request.intervals),
        param_sets,
        settings.backtest_job_combinations,
        whole_grid=request.walk_forward is not None,
    )
    batch_id = uuid.uuid4()
    backtests = len(param_sets) * len(request.symbols) * len(request.intervals)
    await repository.insert_batch(
        pool,
        batch_id=batch_id,
        user_id=user_id,
        request=request.model_dump(mode="json"),
        strategy=request.strategy,
        rank_by=request.rank_by,
        total_jobs=len(jobs),
        total_backtests=backtests,
    )
    await events.append(
        str(batch_id),
        "queued",
        {
            "batch_id": str(batch_id),
            "jobs": len(jobs),
            "backtests": backtests,
            "strategy": request.strategy,
            "symbols": request.symbols,
            "intervals": list(request.intervals),
        },
    )
    messages = [
        BacktestJobV1(
            batch_id=batch_id,
            job_id=job.job_id,
            total_jobs=len(jobs),
            symbol=job.symbol,
            interval=job.interval,  # type: ignore[arg-type]
            start=request.start,
            end=request.end,
            strategy=request.strategy,
            param_sets=job.param_sets,
            fee=request.fee,
            slippage_bps=request.slippage_bps,
            initial_cash=request.initial_cash,
            details=details,
            requested_by=user_id,
            rank_by=request.rank_by,
            walk_forward=request.walk_forward,
        )
        for job in jobs
    ]
    gate = asyncio.Semaphore(_PUBLISH_CONCURRENCY)

    async def publish(message: BacktestJobV1) -> None:
        async with gate:
            await bus.publish(message, correlation_id=str(batch_id))

    try:
        await asyncio.gather(*(publish(m) for m in messages))
    except Exception:
        # Some jobs may never reach a worker: the batch could not end by itself, so it
        # is cancelled (the published ones skip) and the caller gets the error.
        await repository.cancel_batch(pool, batch_id, user_id)
        await events.append(
            str(batch_id),
            "error",
            {"batch_id": str(batch_id), "error": "the jobs could not all be queued; cancelled"},
        )
        raise
    log.info("backtest.batch_submitted", batch_id=str(batch_id), jobs=len(jobs), user_id=user_id)
    return SubmittedBatch(batch_id, len(jobs), backtests)
