"""Walk-forward analysis: pick parameters on rolling train windows, trade the next test
window with them, and stitch the test windows into one out-of-sample result.

Windows by bar index: train [s, s+train), test [s+train, s+train+test) (the last one
may be shorter), then s advances by `test` bars. Each test window is simulated on
bars [s, test end) with trading only from the test window's first bar, so indicators
are warmed up on the train bars and no test bar is seen before it is traded. An open
position is closed at the end of each test window (the contract's end-of-run rule);
the next window starts with the equity the previous one ended with. The in-sample
result beside it is the best parameter set on the whole range — the number one would
have believed without walk-forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ticktide_common.backtests.catalogue import LOWER_IS_BETTER, RANKABLE_METRICS

from . import simulate as sim
from .bars import Bars, bars_per_year
from .grid import GridError
from .metrics import Metric, compute_metrics, thin_equity
from .runner import (
    BacktestResult,
    Costs,
    run_grid,
    simulate_params,
    span_years,
    strategy_spec,
    trade_rows,
    validate_params,
)
from .strategies import IndicatorCache

RANKABLE = frozenset(RANKABLE_METRICS)


def rank_key(metrics: dict[str, Metric], rank_by: str) -> tuple[int, float]:
    """Sort key, best first: undefined (None) values rank last."""
    value = metrics.get(rank_by)
    if value is None:
        return (1, 0.0)
    return (0, float(value) if rank_by in LOWER_IS_BETTER else -float(value))


def best_result(results: Sequence[BacktestResult], rank_by: str) -> BacktestResult:
    """The best result by `rank_by` (the first one among equals)."""
    if rank_by not in RANKABLE:
        raise GridError(f"cannot rank by {rank_by!r}; choose one of {', '.join(sorted(RANKABLE))}")
    return min(results, key=lambda r: rank_key(r.metrics, rank_by))


@dataclass
class WalkForwardWindow:
    """One train/test step: the windows (epoch seconds, end exclusive) and the choice."""

    train_start: int
    train_end: int
    test_start: int
    test_end: int
    params: dict[str, Any]
    train_metrics: dict[str, Metric]
    test_metrics: dict[str, Metric]


@dataclass
class WalkForwardResult:
    windows: list[WalkForwardWindow]
    out_of_sample: BacktestResult
    in_sample: BacktestResult


def walk_forward(
    bars: Bars,
    strategy: str,
    param_sets: Sequence[dict[str, Any]],
    *,
    train_bars: int,
    test_bars: int,
    rank_by: str,
    fee: float,
    slippage_bps: float,
    initial_cash: float,
    interval: str,
    max_equity_points: int = 2000,
    check: Callable[[], None] | None = None,
) -> WalkForwardResult:
    """Rolling walk-forward of `param_sets` over `bars` (see the module docstring).
    `check` is called before each parameter set of every window (a time limit
    raises from it)."""
    spec = strategy_spec(strategy)
    costs = Costs(fee, slippage_bps, initial_cash)
    costs.check()
    if train_bars < 1 or test_bars < 1:
        raise GridError("walk-forward needs train_bars >= 1 and test_bars >= 1")
    n = len(bars)
    if n < train_bars + 1:
        raise GridError(f"walk-forward needs more than train_bars={train_bars} bars; have {n}")
    if not param_sets:
        raise GridError("walk-forward needs at least one parameter set")
    best_result([BacktestResult({}, {})], rank_by)  # validates rank_by up front
    per_year = bars_per_year(interval)
    windows: list[WalkForwardWindow] = []
    equity_parts: list[np.ndarray] = []
    trades: list[dict[str, Any]] = []
    wins = 0
    gross_profit = gross_loss = 0.0
    bars_in_position = 0
    cash = initial_cash
    start = 0
    while start + train_bars < n:
        test_start, test_end = start + train_bars, min(start + train_bars + test_bars, n)
        train = run_grid(bars.window(start, test_start), strategy, param_sets, fee=fee,
                         slippage_bps=slippage_bps, initial_cash=initial_cash,
                         interval=interval, details=False, check=check)  # fmt: skip
        chosen = best_result(train, rank_by)
        segment = bars.window(start, test_end)
        first = test_start - start
        run = simulate_params(IndicatorCache(segment), spec, validate_params(spec, chosen.params),
                              Costs(fee, slippage_bps, cash), first_bar=first)  # fmt: skip
        test_metrics = compute_metrics(
            run.stats, initial_cash=cash, bars=len(segment) - first,
            span_years=span_years(segment, interval, first), bars_per_year=per_year,
        )  # fmt: skip
        windows.append(
            WalkForwardWindow(
                int(bars.times[start]),
                int(bars.times[test_start]),
                int(bars.times[test_start]),
                int(bars.times[test_end]) if test_end < n else int(bars.times[-1]) + 1,
                chosen.params,
                chosen.metrics,
                test_metrics,
            )  # fmt: skip
        )
        equity_parts.append(run.equity[first:])
        trades.extend(trade_rows(segment, run.trades))
        wins += int(run.stats[sim.STAT_WINS])
        gross_profit += float(run.stats[sim.STAT_GROSS_PROFIT])
        gross_loss += float(run.stats[sim.STAT_GROSS_LOSS])
        bars_in_position += int(run.stats[sim.STAT_BARS_IN_POSITION])
        cash = float(run.stats[sim.STAT_FINAL_EQUITY])
        start += test_bars

    equity = np.concatenate(equity_parts)
    stats = np.zeros(sim.STAT_COUNT)
    sim.equity_stats(equity, stats)
    stats[sim.STAT_TRADES] = len(trades)
    stats[sim.STAT_WINS] = wins
    stats[sim.STAT_GROSS_PROFIT] = gross_profit
    stats[sim.STAT_GROSS_LOSS] = gross_loss
    stats[sim.STAT_BARS_IN_POSITION] = bars_in_position
    first_test = train_bars
    test_times = bars.times[first_test:]
    out_of_sample = BacktestResult(
        params={"walk_forward": [w.params for w in windows]},
        metrics=compute_metrics(
            stats, initial_cash=initial_cash, bars=len(equity),
            span_years=span_years(bars, interval, first_test), bars_per_year=per_year,
        ),
        trades=trades,
        equity=thin_equity(test_times, equity, max_equity_points),
    )  # fmt: skip
    full = run_grid(bars, strategy, param_sets, fee=fee, slippage_bps=slippage_bps,
                    initial_cash=initial_cash, interval=interval, details=False,
                    check=check)  # fmt: skip
    in_sample = best_result(full, rank_by)
    in_sample = run_grid(bars, strategy, [in_sample.params], fee=fee, slippage_bps=slippage_bps,
                         initial_cash=initial_cash, interval=interval,
                         max_equity_points=max_equity_points)[0]  # fmt: skip
    return WalkForwardResult(windows, out_of_sample, in_sample)
