"""Running one backtest job: the handler of `backtest-worker.jobs` and of its
dead-letter queue.

Order of effects for a job: skip it if the batch is cancelled; load the series
(cached); run the grid off the event loop; store results and the job's
completion in one transaction; append its events (once per job, by a Redis
script); announce the summary when every job is over; return, so the bus acks.
A crash anywhere before the ack redelivers the job, which then finds its rows
and only completes what is missing. A job that dead-letters (it kept crashing
until the delivery limit) is recorded as failed and announced as an `error`.
A failure no retry can cure (failures.py: the time limit, invalid parameters,
a row PostgreSQL refuses) is recorded and announced at once with its reason and
then dead-lettered, so it is never redelivered.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg

from ticktide_backtest_worker import repository
from ticktide_backtest_worker.candles import CandleCache
from ticktide_backtest_worker.engine import BacktestResult, Bars, run_grid, walk_forward
from ticktide_backtest_worker.engine.rules.runner import run_language_grid
from ticktide_backtest_worker.failures import JobDeadline, permanent_reason
from ticktide_backtest_worker.repository import BatchFacts, ResultRow
from ticktide_common.backtests.catalogue import LOWER_IS_BETTER
from ticktide_common.backtests.events import BatchEventLog, EventName, finite
from ticktide_common.errors import PermanentError
from ticktide_common.faults import CommitFault
from ticktide_common.logging import get_logger
from ticktide_common.messages import BacktestJobV1
from ticktide_common.rules import RuleErrors, check_document

__all__ = ["BacktestJobRunner"]

log = get_logger(__name__)


def _result_row(result: BacktestResult, details: bool) -> ResultRow:
    return ResultRow(
        params=finite(dict(result.params)),
        metrics=finite(dict(result.metrics)),
        trades=finite(list(result.trades)) if details else None,
        equity=finite(list(result.equity)) if details else None,
    )


class BacktestJobRunner:
    """Handles `BacktestJobV1` messages and their dead letters."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        candles: CandleCache,
        events: BatchEventLog,
        fault: CommitFault | None = None,
        *,
        time_limit_seconds: float = 300.0,
    ) -> None:
        self.pool = pool
        self.candles = candles
        self.events = events
        self.fault = fault or CommitFault()
        self.time_limit_seconds = time_limit_seconds
        self.jobs_run = 0
        self.deliveries = 0  # every job message handled, redeliveries included

    async def _facts(self, job: BacktestJobV1) -> BatchFacts:
        facts = await repository.batch_facts(self.pool, job.batch_id)
        if facts is None:
            raise PermanentError(f"batch {job.batch_id} does not exist")
        return facts

    async def handle(self, job: BacktestJobV1) -> None:
        self.deliveries += 1
        facts = await self._facts(job)
        outcome = await repository.job_outcome(self.pool, job.batch_id, job.job_id)
        if outcome is None and facts.cancelled:
            await repository.record_job(self.pool, job.batch_id, job.job_id, "skipped")
            outcome = "skipped"
        if outcome is None:
            started = time.perf_counter()
            try:
                results = await self._run(job, JobDeadline(self.time_limit_seconds))
                stored = await repository.store_job_results(
                    self.pool, job.batch_id, job.job_id, job.symbol, job.interval, results
                )
            except Exception as exc:
                reason = permanent_reason(exc)
                if reason is None:
                    raise  # transient: the bus retries it
                log.error(
                    "backtest.job_failed_permanently",
                    batch_id=str(job.batch_id),
                    job_id=job.job_id,
                    error=reason,
                    seconds=round(time.perf_counter() - started, 4),
                )
                await self._fail(job, facts, reason)
                raise PermanentError(reason) from exc  # dead-lettered, not redelivered
            self.jobs_run += 1
            if stored:
                self.fault.committed()
            log.info(
                "backtest.job_done",
                batch_id=str(job.batch_id),
                job_id=job.job_id,
                backtests=len(results),
                stored=stored,
                seconds=round(time.perf_counter() - started, 4),  # load, run, store
            )
        await self._announce(job, facts)

    async def _run(self, job: BacktestJobV1, deadline: JobDeadline) -> list[ResultRow]:
        bars = await self.candles.bars(job.symbol, job.interval, job.start, job.end)
        if len(bars.times) == 0:
            raise PermanentError(f"no {job.symbol} {job.interval} candles in the job's range")
        if job.walk_forward is not None:
            return await self._walk_forward(job, bars, deadline)
        if job.strategy_version is not None:
            return await self._run_language(job, bars, deadline)
        results = await asyncio.to_thread(
            run_grid,
            bars,
            job.strategy,
            [dict(p) for p in job.param_sets],
            fee=job.fee,
            slippage_bps=job.slippage_bps,
            initial_cash=job.initial_cash,
            interval=job.interval,
            details=job.details,
            check=deadline.check,
        )
        return [_result_row(r, job.details) for r in results]

    async def _run_language(
        self, job: BacktestJobV1, bars: Bars, deadline: JobDeadline
    ) -> list[ResultRow]:
        """A saved language strategy: its document checked again here (the worker
        trusts no producer with code), compiled into the bar loop once per shape."""
        assert job.strategy_version is not None
        try:
            strategy = check_document(job.strategy_version.document)
        except RuleErrors as exc:
            raise PermanentError(f"the strategy's document does not check: {exc}") from None
        results = await asyncio.to_thread(
            run_language_grid,
            bars,
            strategy,
            [dict(p) for p in job.param_sets],
            fee=job.fee,
            slippage_bps=job.slippage_bps,
            initial_cash=job.initial_cash,
            interval=job.interval,
            details=job.details,
            check=deadline.check,
        )
        return [_result_row(r, job.details) for r in results]

    async def _walk_forward(
        self, job: BacktestJobV1, bars: Bars, deadline: JobDeadline
    ) -> list[ResultRow]:
        """Two results per series: the stitched out-of-sample run (its params list each
        window's choice) and the in-sample best, both with trades and equity."""
        assert job.walk_forward is not None
        found = await asyncio.to_thread(
            walk_forward,
            bars,
            job.strategy,
            [dict(p) for p in job.param_sets],
            train_bars=job.walk_forward.train_bars,
            test_bars=job.walk_forward.test_bars,
            rank_by=job.rank_by,
            fee=job.fee,
            slippage_bps=job.slippage_bps,
            initial_cash=job.initial_cash,
            interval=job.interval,
            check=deadline.check,
        )
        windows = [
            {
                "train_start": w.train_start,
                "test_start": w.test_start,
                "test_end": w.test_end,
                "params": w.params,
                "train_metrics": w.train_metrics,
                "test_metrics": w.test_metrics,
            }
            for w in found.windows
        ]
        out_of_sample = _result_row(found.out_of_sample, True)
        in_sample = _result_row(found.in_sample, True)
        return [
            ResultRow(
                {"walk_forward": "out_of_sample", "windows": finite(windows)},
                out_of_sample.metrics,
                out_of_sample.trades,
                out_of_sample.equity,
            ),
            ResultRow(
                {"walk_forward": "in_sample", **in_sample.params},
                in_sample.metrics,
                in_sample.trades,
                in_sample.equity,
            ),
        ]

    async def _announce(self, job: BacktestJobV1, facts: BatchFacts) -> None:
        """Append the job's events (once) from what is stored, then the summary if due."""
        outcome = await repository.job_outcome(self.pool, job.batch_id, job.job_id)
        if outcome is None:
            raise RuntimeError(f"job {job.job_id} of {job.batch_id} has no recorded outcome")
        events: list[tuple[EventName, dict[str, Any]]] = []
        if outcome == "failed":
            # The reason first recorded, whoever announces it (this delivery, a
            # redelivery after a crash, or the dead-letter consumer).
            reason = await repository.job_error(self.pool, job.batch_id, job.job_id)
            events.append(
                (
                    "error",
                    {
                        "batch_id": str(job.batch_id),
                        "job_id": job.job_id,
                        "symbol": job.symbol,
                        "interval": job.interval,
                        "backtests": len(job.param_sets),
                        "error": reason or "the job failed; see worker logs",
                    },
                )
            )
        if outcome == "done":
            for params, metrics in await repository.job_results(
                self.pool, job.batch_id, job.job_id
            ):
                events.append(
                    (
                        "result",
                        {
                            "batch_id": str(job.batch_id),
                            "job_id": job.job_id,
                            "symbol": job.symbol,
                            "interval": job.interval,
                            "params": params,
                            "metrics": metrics,
                        },
                    )
                )
        await self._append(str(job.batch_id), job, outcome, facts, events)

    async def _append(
        self,
        batch_id: str,
        job: BacktestJobV1,
        outcome: str,
        facts: BatchFacts,
        events: list[tuple[EventName, dict[str, Any]]],
    ) -> None:
        finished, _ = await self.events.append_job(
            batch_id=batch_id,
            job_id=job.job_id,
            outcome=outcome,  # type: ignore[arg-type]
            total_jobs=facts.total_jobs,
            created_at=facts.created_at,
            now=time.time(),
            events=events,
        )
        if finished >= facts.total_jobs:
            await self._summarise(job, facts)

    async def _summarise(self, job: BacktestJobV1, facts: BatchFacts) -> None:
        summary = await repository.batch_summary(
            self.pool,
            job.batch_id,
            facts.rank_by,
            lower_is_better=facts.rank_by in LOWER_IS_BETTER,
        )
        await repository.finish_batch(self.pool, job.batch_id)
        current = await repository.batch_facts(self.pool, job.batch_id)
        summary.update(
            batch_id=str(job.batch_id),
            total_jobs=facts.total_jobs,
            rank_by=facts.rank_by,
            status="cancelled" if current is not None and current.cancelled else "done",
            seconds=round(time.time() - facts.created_at, 3),
        )
        if await self.events.append_summary(str(job.batch_id), summary):
            log.info("backtest.batch_done", batch_id=str(job.batch_id), **_counts(summary))

    async def handle_dead_letter(self, job: BacktestJobV1, reason: str) -> None:
        """A job that could not be run: record it failed, announce an `error` (once:
        a job that failed permanently was announced before it was dead-lettered)."""
        facts = await repository.batch_facts(self.pool, job.batch_id)
        if facts is None:
            log.warning("backtest.dead_letter_without_batch", batch_id=str(job.batch_id))
            return
        await self._fail(job, facts, reason)

    async def _fail(self, job: BacktestJobV1, facts: BatchFacts, reason: str) -> None:
        """Record the job failed (unless it is already over) and announce its outcome."""
        if await repository.record_job(self.pool, job.batch_id, job.job_id, "failed", reason):
            log.error(
                "backtest.job_failed", batch_id=str(job.batch_id), job_id=job.job_id, error=reason
            )
        await self._announce(job, facts)


def _counts(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in ("jobs_done", "jobs_failed", "jobs_skipped", "results")}
