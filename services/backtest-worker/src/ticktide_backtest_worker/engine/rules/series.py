"""The numbers a language strategy reads before its bar loop runs: every
indicator row and every series an indicator is computed over, for one
parameter set, computed once per grid and shared by every parameter set that
asks for the same one (`SeriesStore`, bounded by a memory budget).

Evaluation walks the checked tree (`ticktide_common.rules.ir`) with numpy:
nothing is evaluated from text. A parameter is bound to its value first, so a
bound node is the key of the array it stands for. A window or lag as long as the
series or longer gives NaN throughout (no signal), as the built-ins' do; the
gateway refuses a batch whose windows cannot fit its range before any work.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping

import numpy as np

from ticktide_common.rules import ir
from ticktide_common.rules.scalars import scalar_value

from .. import indicators
from ..bars import Bars

__all__ = ["SeriesStore", "bind", "scalar_value"]

_WINDOWED: Mapping[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "sma": indicators.sma,
    "ema": indicators.ema,
    "rma": indicators.rma,
    "stdev": indicators.rolling_std,
    "highest": indicators.highest,
    "lowest": indicators.lowest,
    "rsi": indicators.rsi,
    "roc": indicators.roc,
    "change": indicators.change,
}


def bind(expr: ir.Expr, values: Mapping[str, float]) -> ir.Expr:
    """`expr` with every parameter replaced by its value (a Const)."""
    if isinstance(expr, ir.Param):
        value = values[expr.name]
        return ir.Const(float(value), expr.integer)
    if isinstance(expr, ir.Const | ir.Bar | ir.BoolConst):
        return expr
    if isinstance(expr, ir.Indicator):
        source = bind(expr.source, values) if expr.source is not None else None
        window = bind(expr.window, values)
        assert isinstance(window, ir.Const)
        return ir.Indicator(expr.function, source, window)
    if isinstance(expr, ir.Arith | ir.Compare | ir.Logic | ir.Cross):
        return type(expr)(expr_op(expr), bind(expr.left, values), bind(expr.right, values))  # type: ignore[call-arg]
    if isinstance(expr, ir.Unary):
        return ir.Unary(expr.operator, bind(expr.operand, values))
    if isinstance(expr, ir.NotOp):
        return ir.NotOp(bind(expr.operand, values))
    if isinstance(expr, ir.Shift):
        return ir.Shift(bind(expr.operand, values), expr.bars)
    raise TypeError(f"not an expression node: {expr!r}")


def expr_op(expr: ir.Arith | ir.Compare | ir.Logic | ir.Cross) -> str:
    return expr.direction if isinstance(expr, ir.Cross) else expr.operator


_ARRAY_ARITH: Mapping[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide,
    "min": np.minimum, "max": np.maximum,
}  # fmt: skip


class SeriesStore:
    """Arrays of one series' bars by bound node, least recently used dropped
    first once their bytes pass `budget_bytes` (a dropped one is recomputed if
    asked for again). Every array it hands out is read-only, so each compiled
    indicator sees one array type (and is compiled, or loaded, once)."""

    def __init__(self, bars: Bars, budget_bytes: int = 512 * 1024 * 1024) -> None:
        self.bars = bars
        self.budget_bytes = budget_bytes
        self._arrays: OrderedDict[ir.Expr, np.ndarray] = OrderedDict()
        self._bytes = 0
        self.computed = 0  # arrays computed (a grid's sharing shows here)

    def series(self, expr: ir.Expr) -> np.ndarray:
        """The values of a bound numeric node, one per bar."""
        found = self._arrays.get(expr)
        if found is not None:
            self._arrays.move_to_end(expr)
            return found
        found = self._compute(expr)
        found.setflags(write=False)
        self.computed += 1
        self._arrays[expr] = found
        self._bytes += found.nbytes
        while self._bytes > self.budget_bytes and len(self._arrays) > 1:
            _, dropped = self._arrays.popitem(last=False)
            self._bytes -= dropped.nbytes
        return found

    def _compute(self, expr: ir.Expr) -> np.ndarray:
        n = len(self.bars)
        if isinstance(expr, ir.Bar):  # a view: the caller's arrays stay as they are
            return np.ascontiguousarray(getattr(self.bars, expr.field), dtype=np.float64).view()
        if isinstance(expr, ir.Const):
            return np.full(n, expr.value)
        if isinstance(expr, ir.Indicator):
            assert isinstance(expr.window, ir.Const)
            window = int(expr.window.value)  # longer than the bars: NaN throughout
            if expr.source is None:
                high, low, close = (self.series(ir.Bar(name)) for name in ("high", "low", "close"))
                return indicators.atr(high, low, close, window)
            return _skip_leading_nan(_WINDOWED[expr.function], self.series(expr.source), window)
        with np.errstate(all="ignore"):
            if isinstance(expr, ir.Arith):
                return _ARRAY_ARITH[expr.operator](self.series(expr.left), self.series(expr.right))
            if isinstance(expr, ir.Unary):
                operand = self.series(expr.operand)
                return np.abs(operand) if expr.operator == "abs" else np.negative(operand)
        if isinstance(expr, ir.Shift):
            source = self.series(expr.operand)
            shifted = np.full(n, np.nan)
            if expr.bars < n:
                shifted[expr.bars :] = source[: n - expr.bars]
            return shifted
        raise TypeError(f"not a numeric series: {expr!r}")


def _skip_leading_nan(
    function: Callable[[np.ndarray, int], np.ndarray], source: np.ndarray, window: int
) -> np.ndarray:
    """`function` over `source` from its first number on (NaN before)."""
    valid = np.flatnonzero(~np.isnan(source))
    start = int(valid[0]) if valid.size else source.shape[0]
    if start == 0:
        return function(source, window)
    out = np.full(source.shape[0], np.nan)
    if source.shape[0] - start > window:
        out[start:] = function(np.ascontiguousarray(source[start:]), window)
    return out
