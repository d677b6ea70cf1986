"""Type-checking: a syntax tree and the declared parameters to the checked,
canonical form of `ir`, or errors at the positions that caused them.

Kinds: a number (a scalar, one per parameter set, or a series, one per bar)
or a condition. Windows (how many bars an indicator reads) are whole numbers
known before the bars are read: an `int` parameter or a whole number, within
[1, MAX_WINDOW]. Lags look back only, by a whole number of bars.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from . import ir
from . import nodes as n
from .errors import RuleError, RuleErrors, Span
from .limits import MAX_LAG, MAX_WINDOW

__all__ = ["FUNCTIONS", "ParamSpec", "StopRule", "check_expression", "check_stop"]

# Indicators over a series with a window: f(series, window).
WINDOWED = ("sma", "ema", "rma", "stdev", "highest", "lowest", "rsi", "roc", "change")
FUNCTIONS = (*WINDOWED, "atr", "crosses_above", "crosses_below", "abs", "min", "max")
STOP_FUNCTIONS = ("pct", "atr_mult")
COMMUTATIVE = frozenset({"+", "*", "==", "!=", "and", "or", "min", "max"})


@dataclass(frozen=True)
class ParamSpec:
    """A declared parameter: its type and bounds (checked by `document`)."""

    name: str
    integer: bool
    low: float
    high: float
    default: float


def _error(code: str, message: str, span: Span, hint: str | None = None) -> RuleErrors:
    return RuleErrors([RuleError(code, message, span=span, hint=hint)])


def _suggest(word: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _ordered(operator: str, left: ir.Expr, right: ir.Expr) -> tuple[ir.Expr, ir.Expr]:
    # By shape only (operands of one shape stay as written): renaming numbers and
    # parameters then never reorders anything, so the compiled kernel stays the same.
    if operator in COMMUTATIVE and _order_key(right) < _order_key(left):
        return right, left
    return left, right


def _order_key(expr: ir.Expr) -> str:
    return ir.shape_text(expr)


def arith(operator: str, left: ir.Expr, right: ir.Expr) -> ir.Expr:
    left, right = _ordered(operator, left, right)
    return ir.Arith(operator, left, right)


def compare(operator: str, left: ir.Expr, right: ir.Expr) -> ir.Expr:
    flipped = {">": "<", ">=": "<="}
    if operator in flipped:
        operator, left, right = flipped[operator], right, left
    left, right = _ordered(operator, left, right)
    return ir.Compare(operator, left, right)


def logic(operator: str, left: ir.Expr, right: ir.Expr) -> ir.Expr:
    left, right = _ordered(operator, left, right)
    return ir.Logic(operator, left, right)


class _Checker:
    def __init__(self, params: Mapping[str, ParamSpec]) -> None:
        self.params = params

    def number(self, node: n.Node, what: str) -> ir.Expr:
        found = self.check(node)
        if found.condition:
            raise _error(
                "type", f"{what} needs a number here, not a condition", node.span,
                "a condition (a comparison, and/or/not, crosses_…) is true or false",
            )  # fmt: skip
        return found

    def condition(self, node: n.Node, what: str) -> ir.Expr:
        found = self.check(node)
        if not found.condition:
            raise _error(
                "type", f"{what} needs a condition here, not a number", node.span,
                "compare it: e.g. close > sma(close, 20)",
            )  # fmt: skip
        return found

    def series(self, node: n.Node, what: str) -> ir.Expr:
        found = self.number(node, what)
        if found.scalar:
            raise _error(
                "type", f"{what} needs a series (open, high, low, close, volume or one made "
                "of them), not a single number", node.span,
            )  # fmt: skip
        return found

    def window(self, node: n.Node, function: str) -> ir.Const | ir.Param:
        hint = f"a window is a whole number of bars: an int parameter or a number like 14, in 1..{MAX_WINDOW}"  # noqa: E501
        if isinstance(node, n.Number) and node.is_integer:
            value = int(node.text[:8])
            if not 1 <= value <= MAX_WINDOW:
                raise _error(
                    "window", f"{function}'s window {node.text} is out of range", node.span, hint
                )  # noqa: E501
            return ir.Const(float(value), True)
        if isinstance(node, n.Name) and node.name in self.params:
            spec = self.params[node.name]
            if not spec.integer:
                raise _error(
                    "window",
                    f"{function}'s window {node.name!r} is a float parameter",
                    node.span,
                    hint,
                )  # noqa: E501
            if spec.low < 1 or spec.high > MAX_WINDOW:
                raise _error(
                    "window", f"parameter {node.name!r} is a window of {function}: its range must lie in 1..{MAX_WINDOW}",  # noqa: E501
                    node.span, hint,
                )  # fmt: skip
            return ir.Param(node.name, True)
        raise _error(
            "window",
            f"{function}'s window must be a whole number or an int parameter",
            node.span,
            hint,
        )  # noqa: E501

    def check(self, node: n.Node) -> ir.Expr:
        method: Callable[[n.Node], ir.Expr] = getattr(self, f"_{type(node).__name__}")
        return method(node)

    def _Number(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Number)
        value = float(node.text)
        if not math.isfinite(value):
            raise _error("number", f"{node.text} is too large", node.span)
        return ir.Const(value, node.is_integer)

    def _BoolLiteral(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.BoolLiteral)
        return ir.BoolConst(node.value)

    def _Name(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Name)
        if node.name in ir.BARS:
            return ir.Bar(node.name)
        if node.name in self.params:
            return ir.Param(node.name, self.params[node.name].integer)
        if node.name in FUNCTIONS or node.name in STOP_FUNCTIONS:
            raise _error(
                "type",
                f"{node.name} is a function: call it",
                node.span,
                f"e.g. {node.name}(close, 14)",
            )  # noqa: E501
        known = [*ir.BARS, *self.params]
        hint = (
            _suggest(node.name, known)
            or f"the series are {', '.join(ir.BARS)}; parameters are declared under params"
        )  # noqa: E501
        raise _error("unknown_name", f"unknown name {node.name!r}", node.span, hint)

    def _Negate(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Negate)
        operand = self.number(node.operand, "-")
        if isinstance(operand, ir.Const):
            return ir.Const(-operand.value, operand.integer)
        return ir.Unary("neg", operand)

    def _Binary(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Binary)
        left = self.number(node.left, node.operator)
        right = self.number(node.right, node.operator)
        return arith(node.operator, left, right)

    def _Compare(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Compare)
        left = self.number(node.left, node.operator)
        right = self.number(node.right, node.operator)
        return compare(node.operator, left, right)

    def _Logic(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Logic)
        left = self.condition(node.left, node.operator)
        right = self.condition(node.right, node.operator)
        return logic(node.operator, left, right)

    def _Not(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Not)
        return ir.NotOp(self.condition(node.operand, "not"))

    def _Lag(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Lag)
        if node.bars < 0:
            back = f"{_text_of(node.operand)}[{-node.bars}]"
            raise _error(
                "lookahead",
                f"lags look back only: use {back}",
                node.bars_span,
                f"{back} is the value {-node.bars} bar(s) ago; nothing can read a later bar",
            )
        if node.bars > MAX_LAG:
            raise _error("lag", f"a lag is at most {MAX_LAG} bars", node.bars_span)
        operand = self.check(node.operand)
        if operand.scalar:
            raise _error(
                "type", "only a series or a condition has earlier bars to look back on",
                node.span, "a parameter or a number is the same on every bar: drop the [k]",
            )  # fmt: skip
        # x[0] stays a lag (of 0 bars): a lag's length is a number the kernel takes at
        # run time, so changing it never changes the compiled code.
        if isinstance(operand, ir.Shift):
            return ir.Shift(operand.operand, operand.bars + node.bars)
        return ir.Shift(operand, node.bars)

    def _Call(self, node: n.Node) -> ir.Expr:
        assert isinstance(node, n.Call)
        name, args = node.function, node.arguments
        if name in STOP_FUNCTIONS:
            raise _error(
                "stop_function", f"{name} is a whole stop_loss or take_profit rule, never part "
                "of an expression", node.function_span,
            )  # fmt: skip
        if name not in FUNCTIONS and name not in STOP_FUNCTIONS:
            hint = _suggest(name, [*FUNCTIONS]) or f"the functions are {', '.join(FUNCTIONS)}"
            raise _error("unknown_function", f"unknown function {name!r}", node.function_span, hint)  # noqa: E501
        arity = {"atr": 1, "abs": 1, "pct": 1}.get(name, 2)
        if len(args) != arity:
            raise _error(
                "arguments", f"{name} takes {arity} argument{'s' if arity > 1 else ''}, "
                f"not {len(args)}", node.span, _SIGNATURES.get(name),
            )  # fmt: skip
        if name in WINDOWED:
            source = self.series(args[0], name)
            return ir.Indicator(name, source, self.window(args[1], name))
        if name == "atr":
            return ir.Indicator("atr", None, self.window(args[0], name))
        if name in ("crosses_above", "crosses_below"):
            left, right = self.number(args[0], name), self.number(args[1], name)
            return ir.Cross(name.removeprefix("crosses_"), left, right)
        if name == "abs":
            return ir.Unary("abs", self.number(args[0], name))
        if name in ("min", "max"):
            return arith(name, self.number(args[0], name), self.number(args[1], name))
        raise AssertionError(name)  # every function is handled above


_SIGNATURES = {
    **{name: f"{name}(series, window), e.g. {name}(close, 14)" for name in WINDOWED},
    "atr": "atr(window), e.g. atr(14)",
    "crosses_above": "crosses_above(a, b): a was below b on the bar before and is above it now",
    "crosses_below": "crosses_below(a, b): a was above b on the bar before and is below it now",
    "abs": "abs(x)",
    "min": "min(a, b)",
    "max": "max(a, b)",
    "pct": "pct(0.05): 5% from the entry price",
    "atr_mult": "atr_mult(14, 2.0): 2 × ATR(14) from the entry price",
}


def _text_of(node: n.Node) -> str:
    if isinstance(node, n.Name):
        return node.name
    return "x"


@dataclass(frozen=True)
class StopRule:
    """A stop-loss or take-profit level, fixed at the entry: `pct(fraction)` (that
    fraction of the entry price away from it) or `atr_mult(window, multiple)`
    (that many ATRs, as of the entry bar's signal, away from it)."""

    kind: str  # pct | atr_mult
    amount: ir.Expr  # a scalar
    atr: ir.Indicator | None = None


def check_expression(tree: n.Node, params: Mapping[str, ParamSpec], *, want: str) -> ir.Expr:
    """The checked form of `tree`: `want` is "condition" or "number" (a scalar
    one for constraints' operands is checked by the caller)."""
    checker = _Checker(params)
    if want == "condition":
        return checker.condition(tree, "this rule")
    return checker.number(tree, "this rule")


def check_stop(tree: n.Node, params: Mapping[str, ParamSpec]) -> StopRule:
    """A stop rule: the whole expression is `pct(x)` or `atr_mult(n, k)`, with a
    positive scalar amount (a number or parameter, or arithmetic of them)."""
    hint = "write pct(0.05) (5% from the entry price) or atr_mult(14, 2.0) (2 ATRs of 14 bars)"
    if not isinstance(tree, n.Call) or tree.function not in STOP_FUNCTIONS:
        raise _error("stop", "a stop is pct(...) or atr_mult(...)", tree.span, hint)
    checker = _Checker(params)
    arity = 1 if tree.function == "pct" else 2
    if len(tree.arguments) != arity:
        raise _error("arguments", f"{tree.function} takes {arity} argument(s)", tree.span, hint)
    amount_node = tree.arguments[-1]
    amount = checker.number(amount_node, tree.function)
    if not amount.scalar:
        raise _error(
            "stop", f"{tree.function}'s amount is fixed for a backtest: a number or a parameter",
            amount_node.span, hint,
        )  # fmt: skip
    if isinstance(amount, ir.Const) and not amount.value > 0:
        raise _error("stop", "a stop's amount must be positive", amount_node.span, hint)
    if tree.function == "pct" and isinstance(amount, ir.Const) and not amount.value < 1:
        raise _error(
            "stop", "pct takes a fraction below 1: pct(0.05) is 5%", amount_node.span, hint
        )
    if isinstance(amount, ir.Param):
        spec = params[amount.name]
        top = 1.0 if tree.function == "pct" else math.inf
        if not (spec.low > 0 and spec.high < top):
            raise _error(
                "stop", f"parameter {amount.name!r} is {tree.function}'s amount: its range must "
                f"lie above 0{' and below 1' if top == 1.0 else ''}", amount_node.span, hint,
            )  # fmt: skip
    if tree.function == "pct":
        return StopRule("pct", amount)
    atr = ir.Indicator("atr", None, checker.window(tree.arguments[0], "atr_mult"))
    return StopRule("atr_mult", amount, atr)
