"""A language strategy's rules as the source of one compiled signal function.

The generated text is made only of this module's own fixed pieces and of slot
numbers it counts itself: a bar series is `bars[k]`, an indicator row
`ind[k]`, every number and parameter `num[k]`, every lag `lag[k]`. No name,
number or other text of the user's document ever reaches it, so two rules of the
same shape (`ir.shape_text`) give the same text and the same compiled kernel,
whatever their numbers and parameter names.

`Layout` says what each slot holds, so that the runner can fill the slots for
each parameter set. Each distinct subexpression at each bar offset is computed
once per bar (a local variable); a value before the first bar is NaN, so a
comparison on it is false (a lagged condition before the first bar is false).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ticktide_common.rules import ir

__all__ = ["Layout", "signal_source"]

_BAR_ROW = {name: index for index, name in enumerate(ir.BARS)}


@dataclass
class Layout:
    """What the kernel's slots hold: `numbers[k]` is num[k]'s node (a Const or
    Param), `indicators[k]` ind[k]'s, `lags[k]` lag[k]'s bars."""

    numbers: list[ir.Expr] = field(default_factory=list)
    indicators: list[ir.Indicator] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)
    _number_slots: dict[ir.Expr, int] = field(default_factory=dict)
    _indicator_slots: dict[ir.Indicator, int] = field(default_factory=dict)

    def number(self, expr: ir.Expr) -> int:
        if expr not in self._number_slots:
            self._number_slots[expr] = len(self.numbers)
            self.numbers.append(expr)
        return self._number_slots[expr]

    def indicator(self, expr: ir.Indicator) -> int:
        if expr not in self._indicator_slots:
            self._indicator_slots[expr] = len(self.indicators)
            self.indicators.append(expr)
        return self._indicator_slots[expr]


class _Function:
    """The statements of one rule, one local per distinct (node, offset)."""

    def __init__(self, layout: Layout, prefix: str) -> None:
        self.layout = layout
        self.prefix = prefix
        self.lines: list[str] = []
        self.locals: dict[tuple[ir.Expr, str], str] = {}
        self.offsets: dict[str, str] = {"": "t"}

    def local(self, code: str) -> str:
        name = f"{self.prefix}{len(self.lines)}"
        self.lines.append(f"{name} = {code}")
        return name

    def offset(self, key: str, code: str) -> str:
        """The index variable of a bar offset (`t - lag[0] - lag[2]`, …)."""
        if key not in self.offsets:
            self.offsets[key] = self.local(code)
        return self.offsets[key]

    def shifted(self, offset: str, extra: str) -> tuple[str, str]:
        key = f"{offset}+{extra}" if offset else extra
        return key, self.offset(key, f"{self.offsets[offset]} - {extra}")

    def value(self, expr: ir.Expr, offset: str) -> str:
        found = self.locals.get((expr, offset))
        if found is None:
            found = self.local(self._code(expr, offset))
            self.locals[(expr, offset)] = found
        return found

    def _read(self, row: str, offset: str) -> str:
        index = self.offsets[offset]
        if offset == "":
            return f"{row}[t]"
        return f"({row}[{index}] if {index} >= 0 else nan)"

    def _code(self, expr: ir.Expr, offset: str) -> str:
        if isinstance(expr, ir.Const | ir.Param):
            return f"num[{self.layout.number(expr)}]"
        if isinstance(expr, ir.BoolConst):
            return "True" if expr.value else "False"
        if isinstance(expr, ir.Bar):
            return self._read(f"bars[{_BAR_ROW[expr.field]}]", offset)
        if isinstance(expr, ir.Indicator):
            return self._read(f"ind[{self.layout.indicator(expr)}]", offset)
        if isinstance(expr, ir.Shift):
            slot = len(self.layout.lags)
            self.layout.lags.append(expr.bars)
            key, index = self.shifted(offset, f"lag[{slot}]")
            inner = self.value(expr.operand, key)
            if expr.condition:
                return f"({index} >= 0 and {inner})"
            return inner
        if isinstance(expr, ir.Arith):
            left, right = self.value(expr.left, offset), self.value(expr.right, offset)
            if expr.operator in ("min", "max"):
                return f"_{expr.operator}({left}, {right})"
            return f"({left} {expr.operator} {right})"
        if isinstance(expr, ir.Unary):
            operand = self.value(expr.operand, offset)
            return f"abs({operand})" if expr.operator == "abs" else f"(-{operand})"
        if isinstance(expr, ir.Compare):
            left, right = self.value(expr.left, offset), self.value(expr.right, offset)
            return f"({left} {expr.operator} {right})"
        if isinstance(expr, ir.Logic):
            left, right = self.value(expr.left, offset), self.value(expr.right, offset)
            return f"({left} {expr.operator} {right})"
        if isinstance(expr, ir.NotOp):
            return f"(not {self.value(expr.operand, offset)})"
        if isinstance(expr, ir.Cross):
            key, _ = self.shifted(offset, "1")
            before_left, before_right = self.value(expr.left, key), self.value(expr.right, key)
            left, right = self.value(expr.left, offset), self.value(expr.right, offset)
            earlier, later = ("<", ">") if expr.direction == "above" else (">", "<")
            return f"({before_left} {earlier} {before_right} and {left} {later} {right})"
        raise TypeError(f"not an expression node: {expr!r}")


def signal_source(entry: ir.Expr, exit_: ir.Expr) -> tuple[str, Layout]:
    """The source of `signal(args, t, in_position)` (returns +1 buy, -1 sell, 0)
    for these rules, and what its slots hold."""
    layout = Layout()
    exit_rule = _Function(layout, "x")
    exit_value = exit_rule.value(exit_, "")
    entry_rule = _Function(layout, "e")
    entry_value = entry_rule.value(entry, "")
    body = ["def signal(args, t, in_position):", "    bars, ind, num, lag = args"]
    body.append("    if in_position:")
    body += [f"        {line}" for line in exit_rule.lines]
    body.append(f"        return -1 if {exit_value} else 0")
    body += [f"    {line}" for line in entry_rule.lines]
    body.append(f"    return 1 if {entry_value} else 0")
    return "\n".join(body) + "\n", layout
