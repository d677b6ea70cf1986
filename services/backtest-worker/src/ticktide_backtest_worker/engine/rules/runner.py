"""Run a language strategy over a list of parameter sets on one series: the
parameters checked against the document's declarations (the infeasible ones,
a constraint false, are left to the grid's expansion, as the built-ins' are),
every indicator row computed once for the grid (`SeriesStore`), one compiled
kernel for every set (`kernel`), the same bar loop and metrics as the
built-ins."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ticktide_common.rules import CheckedStrategy, ir

from .. import simulate as sim
from ..bars import Bars, bars_per_year
from ..grid import GridError
from ..metrics import compute_metrics, thin_equity
from ..runner import BacktestResult, Costs, span_years, trade_rows
from .codegen import Layout
from .kernel import KERNELS, KernelCache, fill_flags, kernel_for
from .series import SeriesStore, bind, scalar_value

__all__ = [
    "bar_rows_of",
    "feasible",
    "parameter_values",
    "run_language_grid",
    "signal_args",
]

_STOP_KINDS = {"pct": sim.STOP_PCT, "atr_mult": sim.STOP_ATR}
_NO_ROW = np.zeros(1)
_NO_ROW.setflags(write=False)  # as the store's rows are: one array type for the bar loop


def parameter_values(strategy: CheckedStrategy, raw: Mapping[str, Any]) -> dict[str, float]:
    """One parameter set: each declared parameter's value (its default when
    missing), checked against its type and bounds; GridError names a bad one."""
    unknown = sorted(set(raw) - set(strategy.params))
    if unknown:
        raise GridError(f"unknown parameter(s) {', '.join(map(repr, unknown))}")
    values: dict[str, float] = {}
    for name, spec in strategy.params.items():
        value = raw.get(name, spec.default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GridError(f"parameter {name!r} must be a number")
        if not math.isfinite(value) or (spec.integer and value != int(value)):
            raise GridError(
                f"parameter {name!r} must be a whole number"
                if spec.integer
                else f"parameter {name!r} must be finite"
            )  # noqa: E501
        if not spec.low <= value <= spec.high:
            raise GridError(f"parameter {name!r} must lie in [{spec.low}, {spec.high}]")
        values[name] = int(value) if spec.integer else float(value)
    return values


def feasible(strategy: CheckedStrategy, values: Mapping[str, float]) -> bool:
    """Whether every constraint holds for this parameter set."""
    return all(scalar_value(c, values) != 0.0 for c in strategy.constraints)


def _stop(
    store: SeriesStore, rule: Any, values: Mapping[str, float]
) -> tuple[int, float, np.ndarray]:  # noqa: E501
    if rule is None:
        return sim.STOP_NONE, 0.0, _NO_ROW
    amount = scalar_value(rule.amount, values)
    if not (amount > 0.0 and (rule.kind != "pct" or amount < 1.0)):
        raise GridError(f"the {rule.kind} amount {amount} is out of range")
    row = store.series(bind(rule.atr, values)) if rule.atr is not None else _NO_ROW
    return _STOP_KINDS[rule.kind], amount, row


def bar_rows_of(bars: Bars) -> tuple[np.ndarray, ...]:
    """The bar series in the kernel's order (`ir.BARS`)."""
    return tuple(np.ascontiguousarray(getattr(bars, name), dtype=np.float64) for name in ir.BARS)


def signal_args(
    bar_rows: tuple[np.ndarray, ...],
    store: SeriesStore,
    layout: Layout,
    values: Mapping[str, float],
) -> tuple[Any, ...]:
    """The kernel's arguments for one parameter set: bars, indicator rows, numbers, lags."""
    rows = tuple(store.series(bind(node, values)) for node in layout.indicators) or (_NO_ROW,)
    numbers = np.asarray([scalar_value(node, values) for node in layout.numbers] or [0.0])
    lags = np.asarray(layout.lags or [0], dtype=np.int64)
    return bar_rows, rows, numbers, lags


def run_language_grid(
    bars: Bars,
    strategy: CheckedStrategy,
    param_sets: Sequence[Mapping[str, Any]],
    *,
    fee: float,
    slippage_bps: float,
    initial_cash: float,
    interval: str,
    details: bool = True,
    max_equity_points: int = 2000,
    check: Callable[[], None] | None = None,
    store: SeriesStore | None = None,
    kernels: KernelCache = KERNELS,
) -> list[BacktestResult]:
    """One BacktestResult per parameter set, in order (as `runner.run_grid`)."""
    costs = Costs(fee, slippage_bps, initial_cash)
    costs.check()
    n = len(bars)
    if n == 0:
        raise ValueError("no bars to backtest")
    store = store if store is not None else SeriesStore(bars)
    kernel, layout = kernel_for(strategy.entry, strategy.exit, kernels)
    bar_rows = bar_rows_of(bars)
    per_year, years = bars_per_year(interval), span_years(bars, interval)
    stats = np.zeros(sim.STAT_COUNT)
    equity = np.zeros(n if details else 1)
    # A stop can close a trade on its entry bar: up to one trade per bar.
    trades = np.zeros((n + 1 if details else 1, sim.TRADE_COLUMNS))
    flags = np.zeros(n, dtype=np.uint8)  # the last bar's signal is dropped: never read
    results = []
    for raw in param_sets:
        if check is not None:
            check()
        values = parameter_values(strategy, raw)  # constraints: applied when a grid is expanded
        args = signal_args(bar_rows, store, layout, values)
        stop = _stop(store, strategy.stop_loss, values)
        target = _stop(store, strategy.take_profit, values)
        stats[:] = 0.0
        fill_flags(kernel.signal, args, n - 1, flags)
        sim.run_bars(
            sim.flag_signal, flags, bar_rows[0], bar_rows[1], bar_rows[2], bar_rows[3],
            float(fee), float(slippage_bps), float(initial_cash), 0, details, stop[0], stop[1],
            stop[2], target[0], target[1], target[2], equity, trades, stats,
        )  # fmt: skip
        metrics = compute_metrics(
            stats, initial_cash=initial_cash, bars=n, span_years=years, bars_per_year=per_year
        )
        result = BacktestResult(params=dict(values), metrics=metrics)
        if details:
            result.trades = trade_rows(bars, trades[: int(stats[sim.STAT_TRADES])])
            result.equity = thin_equity(bars.times, equity, max_equity_points)
        results.append(result)
    return results


_WARM_UP = {
    "language": "ticktide-rules/1",
    "params": {"w": {"type": "int", "min": 2, "max": 5, "default": 3}},
    "entry": "crosses_above(sma(close, w), ema(close, w)) or rma(close, w) < stdev(close, w)"
    " or rsi(close, w) > highest(high, w)[1] + lowest(low, w) or roc(close, w) > change(close, w)"
    " or abs(min(open, close) - max(high, low)) > atr(w) or not crosses_below(close, open)",
    "exit": "volume < 0",
    "stop_loss": "pct(0.5)",
    "take_profit": "atr_mult(2, 3.0)",
}


def warm_up_language() -> None:
    """Load (or compile) every indicator and the bar loop with `flag_signal` once, so that
    a worker's first language job, and a compile watched by an audit hook, pay
    only for their own kernel."""
    from ticktide_common.rules import check_document

    n = 16
    prices = np.linspace(100.0, 110.0, n) + np.sin(np.arange(n))
    bars = Bars(np.arange(n, dtype=np.int64) * 3600, prices, prices + 1, prices - 1, prices,
                np.ones(n))  # fmt: skip
    run_language_grid(bars, check_document(_WARM_UP), [{}], fee=0.001, slippage_bps=1.0,
                      initial_cash=1.0, interval="1h", max_equity_points=4)  # fmt: skip
