"""Run a strategy over a list of parameter sets on one series, sharing indicators."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import ValidationError

from . import simulate as sim
from .bars import SECONDS_PER_YEAR, Bars, bars_per_year, interval_seconds
from .grid import GridError
from .metrics import Metric, compute_metrics, thin_equity
from .strategies import STRATEGIES, IndicatorCache, StrategyParams, StrategySpec


@dataclass
class BacktestResult:
    """One backtest: its parameters, metrics, trade list and (thinned) equity curve.

    `trades` and `equity` are empty when the grid ran with details=False.
    """

    params: dict[str, Any]
    metrics: dict[str, Metric]
    trades: list[dict[str, Any]] = field(default_factory=list)
    equity: list[tuple[int, float]] = field(default_factory=list)


def trade_rows(bars: Bars, table: np.ndarray) -> list[dict[str, Any]]:
    entry_cash = table[:, sim.TRADE_ENTRY_CASH]
    exit_cash = table[:, sim.TRADE_EXIT_CASH]
    columns = zip(
        bars.times[table[:, sim.TRADE_ENTRY_BAR].astype(np.int64)].tolist(),
        bars.times[table[:, sim.TRADE_EXIT_BAR].astype(np.int64)].tolist(),
        table[:, sim.TRADE_ENTRY_PRICE].tolist(),
        table[:, sim.TRADE_EXIT_PRICE].tolist(),
        table[:, sim.TRADE_UNITS].tolist(),
        (exit_cash - entry_cash).tolist(),
        (
            np.divide(exit_cash, entry_cash, out=np.ones_like(exit_cash), where=entry_cash > 0)
            - 1.0
        ).tolist(),
        strict=True,
    )
    keys = ("entry_time", "exit_time", "entry_price", "exit_price", "units", "pnl", "return")
    return [dict(zip(keys, row, strict=True)) for row in columns]


@dataclass(frozen=True)
class Costs:
    """What every fill pays, and the cash a backtest starts with."""

    fee: float
    slippage_bps: float
    initial_cash: float

    def check(self) -> None:
        if not (0.0 <= self.fee < 1.0) or not (0.0 <= self.slippage_bps < 1e4):
            raise ValueError("need 0 <= fee < 1 and 0 <= slippage_bps < 10000")
        if not self.initial_cash > 0.0:
            raise ValueError("need initial_cash > 0")


def validate_params(spec: StrategySpec, raw: dict[str, Any]) -> StrategyParams:
    """The strategy's typed parameters (defaults filled), or GridError naming the bad one."""
    try:
        return spec.params_model.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or spec.name
        raise GridError(f"strategy {spec.name!r} parameter {where!r}: {error['msg']}") from None


def strategy_spec(strategy: str) -> StrategySpec:
    spec = STRATEGIES.get(strategy)
    if spec is None:
        raise GridError(f"unknown strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}")
    return spec


@dataclass
class Simulation:
    """The raw output of one simulate() call: STAT_* array, equity per bar, trade rows."""

    stats: np.ndarray
    equity: np.ndarray
    trades: np.ndarray
    buffer: np.ndarray  # the whole trade table `trades` is the used part of


def simulate_params(
    cache: IndicatorCache,
    spec: StrategySpec,
    params: StrategyParams,
    costs: Costs,
    *,
    first_bar: int = 0,
    details: bool = True,
    reuse: Simulation | None = None,
) -> Simulation:
    """Simulate one parameter set on the cache's bars (trading from `first_bar`).

    `reuse` hands in the arrays of an earlier call on the same bars (a grid reuses one
    set rather than allocating per combination); the result then views them, so it is
    only valid until the next call that reuses them."""
    bars = cache.bars
    n = len(bars)
    if reuse is not None:
        stats, equity, trades = reuse.stats, reuse.equity, reuse.buffer
    else:
        stats = np.zeros(sim.STAT_COUNT)
        equity = np.zeros(n if details else 1)
        trades = np.zeros(((n - first_bar) // 2 + 1 if details else 1, sim.TRADE_COLUMNS))
    rule, x, lo, hi = spec.rule(cache, params)
    sim.simulate(
        rule, x, lo, hi, bars.open, bars.close, float(costs.fee), float(costs.slippage_bps),
        float(costs.initial_cash), first_bar, details, equity, trades, stats,
    )  # fmt: skip
    used = trades[: int(stats[sim.STAT_TRADES])] if details else trades
    return Simulation(stats, equity, used, trades)


def span_years(bars: Bars, interval: str, first_bar: int = 0) -> float:
    """Years from the first traded bar's open to the last bar's close (365-day years)."""
    seconds = int(bars.times[-1] - bars.times[first_bar]) + interval_seconds(interval)
    return seconds / SECONDS_PER_YEAR


def run_grid(
    bars: Bars,
    strategy: str,
    param_sets: Sequence[dict[str, Any]],
    *,
    fee: float,
    slippage_bps: float,
    initial_cash: float,
    interval: str,
    details: bool = True,
    max_equity_points: int = 2000,
    check: Callable[[], None] | None = None,
) -> list[BacktestResult]:
    """One BacktestResult per parameter set, in order. Parameters are validated by the
    strategy's model (missing ones take defaults); indicators are computed once per
    window for the whole list. `details=False` skips trade lists and equity curves.
    `check` is called before each parameter set (a time limit raises from it)."""
    spec = strategy_spec(strategy)
    costs = Costs(fee, slippage_bps, initial_cash)
    costs.check()
    n = len(bars)
    if n == 0:
        raise ValueError("no bars to backtest")
    per_year = bars_per_year(interval)
    years = span_years(bars, interval)
    cache = IndicatorCache(bars)
    results = []
    run: Simulation | None = None
    for raw in param_sets:
        if check is not None:
            check()
        params = validate_params(spec, raw)
        run = simulate_params(cache, spec, params, costs, details=details, reuse=run)
        metrics = compute_metrics(
            run.stats, initial_cash=initial_cash, bars=n, span_years=years,
            bars_per_year=per_year,
        )  # fmt: skip
        result = BacktestResult(params=params.model_dump(), metrics=metrics)
        if details:
            result.trades = trade_rows(bars, run.trades)
            result.equity = thin_equity(bars.times, run.equity, max_equity_points)
        results.append(result)
    return results


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel, so a worker's first job
    does not pay for it. Takes a few seconds cold, well under one when cached."""
    n = 64
    prices = np.linspace(100.0, 120.0, n) + np.sin(np.arange(n))
    bars = Bars(np.arange(n, dtype=np.int64) * 3600, prices, prices + 1, prices - 1, prices,
                np.ones(n))  # fmt: skip
    for name in STRATEGIES:
        run_grid(bars, name, [{}], fee=0.001, slippage_bps=1.0, initial_cash=1.0, interval="1h",
                 max_equity_points=8)  # fmt: skip
