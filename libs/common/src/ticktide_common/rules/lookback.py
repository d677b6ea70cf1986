"""How many bars a strategy looks back: the windows and lags along each chain of
its rules and stops, summed (`sma(ema(close, 10), 20)[3]` looks back
10 + 20 + 3 bars), a cross one bar more. A series with no more candles than that
gives no signal at all (every indicator is NaN throughout), so the gateway
refuses such a batch before any work instead of running it to empty results.

An upper bound, never an under-estimate: an indicator defined from its
`window`-th bar counts `window`, not `window - 1`. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from . import ir
from .document import CheckedStrategy
from .scalars import scalar_value

__all__ = ["longest_lookback", "lookback_bars"]


def _expr_lookback(expr: ir.Expr, values: Mapping[str, float]) -> int:
    if isinstance(expr, ir.Const | ir.Param | ir.Bar | ir.BoolConst):
        return 0
    if isinstance(expr, ir.Indicator):
        window = int(scalar_value(expr.window, values))
        source = _expr_lookback(expr.source, values) if expr.source is not None else 0
        return source + window
    if isinstance(expr, ir.Shift):
        return _expr_lookback(expr.operand, values) + expr.bars
    if isinstance(expr, ir.Cross):
        return 1 + max(_expr_lookback(expr.left, values), _expr_lookback(expr.right, values))
    if isinstance(expr, ir.Arith | ir.Compare | ir.Logic):
        return max(_expr_lookback(expr.left, values), _expr_lookback(expr.right, values))
    if isinstance(expr, ir.Unary | ir.NotOp):
        return _expr_lookback(expr.operand, values)
    raise TypeError(f"not an expression node: {expr!r}")


def lookback_bars(strategy: CheckedStrategy, values: Mapping[str, float]) -> int:
    """The bars this parameter set looks back, over its entry, exit and stops."""
    exprs: list[ir.Expr] = [strategy.entry, strategy.exit]
    for stop in (strategy.stop_loss, strategy.take_profit):
        if stop is not None and stop.atr is not None:
            exprs.append(stop.atr)
    return max(_expr_lookback(expr, values) for expr in exprs)


def longest_lookback(
    strategy: CheckedStrategy, param_sets: Iterable[Mapping[str, Any]]
) -> tuple[int, Mapping[str, Any]]:
    """The longest look-back over these parameter sets (a parameter missing from a
    set takes its default), and the first set that has it."""
    defaults = {name: spec.default for name, spec in strategy.params.items()}
    best: tuple[int, Mapping[str, Any]] = (-1, {})
    for params in param_sets:
        bars = lookback_bars(strategy, {**defaults, **params})
        if bars > best[0]:
            best = (bars, params)
    return best
