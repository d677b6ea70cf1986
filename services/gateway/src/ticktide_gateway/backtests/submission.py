"""Submitting a batch: validate everything up front, store it, split it into
jobs, announce `queued`, publish the jobs (each confirmed by the broker).

Every rejection is an `InvalidQuery` (422) or `UnknownSymbol` (404) whose
message names what was wrong, raised before anything is stored. The grid is
counted before it is expanded (bounded work on the event loop) and expanded in a
thread; a walk-forward is bounded by parameter sets × windows. A batch exists
only with its `queued` event, which is appended before the row is inserted: if
it cannot be written nothing is stored and `SubmissionUnavailable` (503) raised.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from redis.exceptions import RedisError

from ticktide_common.backtests.catalogue import StrategyDefinition
from ticktide_common.backtests.events import BatchEventLog
from ticktide_common.backtests.grid import GridError, check_grid, expand_grid, normalised_grid
from ticktide_common.backtests.walk_forward import walk_forward_windows
from ticktide_common.bus import Bus
from ticktide_common.logging import get_logger
from ticktide_common.messages import BacktestJobV1, StrategyVersionV1
from ticktide_common.rules import CheckedStrategy, RuleErrors, check_document
from ticktide_common.rules.definitions import language_definition
from ticktide_common.rules.lookback import longest_lookback
from ticktide_common.settings import BacktestLimitsSettings
from ticktide_gateway.backtests import repository
from ticktide_gateway.backtests.planning import BacktestBatchRequest, StrategyRef, plan_jobs
from ticktide_gateway.deps import UnknownSymbol
from ticktide_gateway.strategies import repository as strategies_repository
from ticktide_gateway.validation import InvalidQuery

__all__ = [
    "SubmittedBatch",
    "SubmissionUnavailable",
    "submit_batch",
    "expand_checked",
    "walk_forward_windows",
]

log = get_logger(__name__)

_PUBLISH_CONCURRENCY = 32


class SubmissionUnavailable(Exception):
    """The batch could not be recorded completely (its event log refused `queued`);
    nothing of it is left behind."""


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


@dataclass(frozen=True)
class ResolvedStrategy:
    """What a batch runs: a built-in by name, or a saved language strategy's version
    (checked again here: a document stored by an older checker may not pass now)."""

    name: str  # what the batch lists and its events show
    definition: StrategyDefinition | None = None  # None: the catalogue's, by name
    version: StrategyVersionV1 | None = None
    checked: CheckedStrategy | None = None


async def resolve_strategy(
    pool: asyncpg.Pool, user_id: int, choice: str | StrategyRef
) -> ResolvedStrategy:
    if isinstance(choice, str):
        return ResolvedStrategy(choice)
    stored = await strategies_repository.strategy_version(pool, user_id, choice.id, choice.version)
    if stored is None:
        raise InvalidQuery(
            f"no strategy {choice.id} with a version {choice.version} that you may run "
            "(GET /api/strategies lists yours and the system ones)"
        )
    try:
        checked = check_document(stored.source)
    except RuleErrors as exc:
        raise InvalidQuery(
            f"strategy {choice.id} version {choice.version} does not check any more: {exc}; "
            "save it again"
        ) from None
    name = stored.name[:64]
    return ResolvedStrategy(
        name,
        language_definition(name, checked),
        StrategyVersionV1(
            id=choice.id, version=choice.version, shape_hash=checked.shape_hash,
            document=stored.source,
        ),
        checked,
    )  # fmt: skip


async def expand_checked(
    strategy: str,
    grid: dict[str, Any],
    limit: int,
    definition: StrategyDefinition | None = None,
) -> list[dict[str, Any]]:
    """The grid's parameter sets: counted here (O(parameters)), so an oversized grid
    is refused at once; expanded in a thread (up to `limit` × RAW_FACTOR
    combinations checked), so the event loop never does work that grows with it."""
    try:
        check_grid(strategy, grid, limit, definition)
        param_sets = await asyncio.to_thread(expand_grid, strategy, grid, limit, definition)
    except GridError as exc:
        raise InvalidQuery(str(exc)) from None
    if not param_sets:
        raise InvalidQuery(
            f"the grid has no valid parameter combination for {strategy!r} "
            "(every combination was empty or infeasible, e.g. fast >= slow)"
        )
    return param_sets


def _check_walk_forward_work(
    request: BacktestBatchRequest, counts: dict[tuple[str, str], int], sets: int, limit: int
) -> None:
    """Each series is one job running every parameter set on every window."""
    if request.walk_forward is None:
        return
    train, test = request.walk_forward.train_bars, request.walk_forward.test_bars
    windows, series = max(
        (walk_forward_windows(bars, train, test), f"{symbol} {interval}")
        for (symbol, interval), bars in counts.items()
    )
    if sets * windows > limit:
        raise InvalidQuery(
            f"walk-forward work of {series} is {sets} parameter sets × {windows} windows = "
            f"{sets * windows}, more than the limit of {limit} "
            "(BACKTEST_MAX_WALK_FORWARD_WORK); use fewer parameter sets, a larger "
            "test_bars or a shorter range"
        )


def _check_lookback(
    request: BacktestBatchRequest,
    strategy: ResolvedStrategy,
    param_sets: list[dict[str, Any]],
    counts: dict[tuple[str, str], int],
) -> None:
    """A language strategy's longest look-back (windows and lags summed along each
    rule) must be shorter than every series: on one that short no indicator is
    ever a number, so no signal could be taken. Runs in a thread (it walks every
    parameter set)."""
    if strategy.checked is None:
        return
    bars, params = longest_lookback(strategy.checked, param_sets)
    candles, series = min((n, f"{s} {i}") for (s, i), n in counts.items())
    if bars >= candles:
        shown = ", ".join(f"{name}={value}" for name, value in params.items()) or "its defaults"
        raise InvalidQuery(
            f"{strategy.name!r} with {shown} looks back {bars} bars (windows and lags "
            f"summed along its rules), but {series} has only {candles} candles in "
            f"[{request.start.isoformat()}, {request.end.isoformat()}): no signal could "
            "ever be taken; widen the range or narrow the grid to shorter windows"
        )


async def _check_series(
    pool: asyncpg.Pool, request: BacktestBatchRequest
) -> dict[tuple[str, str], int]:
    """Every symbol known, every series with candles in the range (and, for a
    walk-forward, more than one train window of them); the candles of each."""
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
    return counts


async def submit_batch(
    request: BacktestBatchRequest,
    *,
    user_id: int,
    pool: asyncpg.Pool,
    bus: Bus,
    events: BatchEventLog,
    settings: BacktestLimitsSettings,
    details: bool = False,
) -> SubmittedBatch:
    series = len(request.symbols) * len(request.intervals)
    combos_allowed = max(settings.backtest_max_combinations // series, 1)
    strategy = await resolve_strategy(pool, user_id, request.strategy)
    if strategy.version is not None and request.walk_forward is not None:
        raise InvalidQuery("walk_forward runs the built-in strategies only (for now)")
    try:
        param_sets = await expand_checked(
            strategy.name, request.engine_grid(), combos_allowed, strategy.definition
        )
    except InvalidQuery as exc:
        if series > 1 and "combinations" in str(exc):
            raise InvalidQuery(
                f"{exc}: a batch runs at most {settings.backtest_max_combinations} backtests, "
                f"here {combos_allowed} per series for {series} symbol × interval series"
            ) from None
        raise
    counts = await _check_series(pool, request)
    await asyncio.to_thread(_check_lookback, request, strategy, param_sets, counts)
    _check_walk_forward_work(
        request, counts, len(param_sets), settings.backtest_max_walk_forward_work
    )
    jobs = plan_jobs(
        request.symbols,
        list(request.intervals),
        param_sets,
        settings.backtest_job_combinations,
        whole_grid=request.walk_forward is not None,
    )
    batch_id = uuid.uuid4()
    backtests = len(param_sets) * len(request.symbols) * len(request.intervals)
    stored = request.model_dump(mode="json")
    stored["grid"] = normalised_grid(request.engine_grid())  # compact, never the raw body
    # `queued` first: a batch row exists only once its first event does, even if this
    # process dies in between (an event stream without a row is unreadable: every
    # read checks ownership in the database, and it expires).
    await _announce_queued(
        events,
        batch_id,
        {
            "batch_id": str(batch_id),
            "jobs": len(jobs),
            "backtests": backtests,
            "strategy": strategy.name,
            "symbols": request.symbols,
            "intervals": list(request.intervals),
        },
    )
    await repository.insert_batch(
        pool,
        batch_id=batch_id,
        user_id=user_id,
        request=stored,
        strategy=strategy.name,
        rank_by=request.rank_by,
        total_jobs=len(jobs),
        total_backtests=backtests,
        strategy_id=strategy.version.id if strategy.version else None,
        strategy_version=strategy.version.version if strategy.version else None,
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
            strategy=strategy.name,
            strategy_version=strategy.version,
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
        try:
            await events.append(
                str(batch_id),
                "error",
                {"batch_id": str(batch_id), "error": "the jobs could not all be queued; cancelled"},
            )
        except (RedisError, OSError) as exc:  # the batch is cancelled either way
            log.error("backtest.cancel_event_failed", batch_id=str(batch_id), error=repr(exc))
        raise
    log.info("backtest.batch_submitted", batch_id=str(batch_id), jobs=len(jobs), user_id=user_id)
    return SubmittedBatch(batch_id, len(jobs), backtests)


async def _announce_queued(
    events: BatchEventLog, batch_id: uuid.UUID, queued: dict[str, Any]
) -> None:
    """Append `queued`; if the event log refuses it, nothing of the batch is stored
    and the caller gets `SubmissionUnavailable` (503)."""
    try:
        await events.append(str(batch_id), "queued", queued)
    except (RedisError, OSError) as exc:
        log.error("backtest.queued_event_failed", batch_id=str(batch_id), error=repr(exc))
        raise SubmissionUnavailable(
            "the batch event log is unavailable, so the batch was not queued; try again shortly"
        ) from exc
