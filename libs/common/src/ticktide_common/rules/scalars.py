"""The value of a scalar expression (numbers and parameters only) for one
parameter set: constraints when a grid is expanded, stop amounts when a job
runs. IEEE arithmetic (x/0 is inf or NaN), a condition as 1.0 or 0.0. Walks the
checked tree: nothing is evaluated from text."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping

from . import ir

__all__ = ["scalar_value"]


def _divide(a: float, b: float) -> float:
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def _minimum(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else min(a, b)


def _maximum(a: float, b: float) -> float:
    return math.nan if math.isnan(a) or math.isnan(b) else max(a, b)


_ARITH: Mapping[str, Callable[[float, float], float]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": _divide,
    "min": _minimum, "max": _maximum,
}  # fmt: skip
_COMPARE: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}  # fmt: skip


def scalar_value(expr: ir.Expr, values: Mapping[str, float]) -> float:
    if isinstance(expr, ir.Const):
        return expr.value
    if isinstance(expr, ir.Param):
        return float(values[expr.name])
    if isinstance(expr, ir.BoolConst):
        return 1.0 if expr.value else 0.0
    if isinstance(expr, ir.Arith):
        left, right = scalar_value(expr.left, values), scalar_value(expr.right, values)
        try:
            return float(_ARITH[expr.operator](left, right))
        except OverflowError:
            return math.inf
    if isinstance(expr, ir.Unary):
        operand = scalar_value(expr.operand, values)
        return abs(operand) if expr.operator == "abs" else -operand
    if isinstance(expr, ir.Compare):
        left, right = scalar_value(expr.left, values), scalar_value(expr.right, values)
        return 1.0 if _COMPARE[expr.operator](left, right) else 0.0
    if isinstance(expr, ir.Logic):
        left = scalar_value(expr.left, values) != 0.0
        right = scalar_value(expr.right, values) != 0.0
        return 1.0 if (left and right if expr.operator == "and" else left or right) else 0.0
    if isinstance(expr, ir.NotOp):
        return 0.0 if scalar_value(expr.operand, values) != 0.0 else 1.0
    raise TypeError(f"not a scalar expression: {expr!r}")
