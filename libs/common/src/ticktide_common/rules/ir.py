"""The checked form of an expression: typed, canonical, without spans.

Built by `checker` from the syntax tree. Every node is hashable and compares by
value, so equal subexpressions are one node (the compiler computes each once).
Canonical: `a > b` is `b < a`, `a >= b` is `b <= a`, and the operands of the
commutative operators (`+ * == != and or min max`) are in a fixed order; each
rewrite gives the same value, bit for bit, on every input (IEEE addition and
multiplication commute; a comparison with NaN is false either way round). The
order of commutative operands is by their shape (`shape_text`); operands of the
same shape stay in the order written.

A scalar (`Const`, `Param`, arithmetic of them) is one number per parameter
set; a series is one number per bar; a condition is true or false per bar.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BARS",
    "Arith",
    "Bar",
    "BoolConst",
    "Compare",
    "Const",
    "Cross",
    "Expr",
    "Indicator",
    "Logic",
    "NotOp",
    "Param",
    "Shift",
    "Unary",
    "render",
    "shape_text",
]

BARS = ("open", "high", "low", "close", "volume")


class Expr:
    """A checked expression node."""

    scalar: bool = False  # one value per parameter set (no bars read)
    condition: bool = False  # true/false, not a number


@dataclass(frozen=True)
class Const(Expr):
    value: float
    integer: bool
    scalar = True


@dataclass(frozen=True)
class Param(Expr):
    name: str
    integer: bool
    scalar = True


@dataclass(frozen=True)
class Bar(Expr):
    field: str  # one of BARS


@dataclass(frozen=True)
class Indicator(Expr):
    function: str
    source: Expr | None  # None for atr (reads high, low, close)
    window: Const | Param


@dataclass(frozen=True)
class Arith(Expr):
    operator: str  # + - * / min max
    left: Expr
    right: Expr

    @property
    def scalar(self) -> bool:  # type: ignore[override]
        return self.left.scalar and self.right.scalar


@dataclass(frozen=True)
class Unary(Expr):
    operator: str  # neg abs
    operand: Expr

    @property
    def scalar(self) -> bool:  # type: ignore[override]
        return self.operand.scalar


@dataclass(frozen=True)
class Shift(Expr):
    operand: Expr  # a series or a condition
    bars: int

    @property
    def condition(self) -> bool:  # type: ignore[override]
        return self.operand.condition


@dataclass(frozen=True)
class Compare(Expr):
    operator: str  # < <= == !=
    left: Expr
    right: Expr
    condition = True

    @property
    def scalar(self) -> bool:  # type: ignore[override]
        return self.left.scalar and self.right.scalar


@dataclass(frozen=True)
class Cross(Expr):
    direction: str  # above | below
    left: Expr
    right: Expr
    condition = True


@dataclass(frozen=True)
class Logic(Expr):
    operator: str  # and | or
    left: Expr
    right: Expr
    condition = True

    @property
    def scalar(self) -> bool:  # type: ignore[override]
        return self.left.scalar and self.right.scalar


@dataclass(frozen=True)
class NotOp(Expr):
    operand: Expr
    condition = True

    @property
    def scalar(self) -> bool:  # type: ignore[override]
        return self.operand.scalar


@dataclass(frozen=True)
class BoolConst(Expr):
    value: bool
    condition = True
    scalar = True


def render(expr: Expr) -> str:
    """The canonical text of `expr` (what is stored as its canonical form)."""
    if isinstance(expr, Const):
        return repr(int(expr.value)) if expr.integer else repr(expr.value)
    if isinstance(expr, Param):
        return expr.name
    if isinstance(expr, Bar):
        return expr.field
    if isinstance(expr, BoolConst):
        return "true" if expr.value else "false"
    if isinstance(expr, Indicator):
        inner = [render(expr.source)] if expr.source is not None else []
        return f"{expr.function}({', '.join([*inner, render(expr.window)])})"
    if isinstance(expr, Arith):
        if expr.operator in ("min", "max"):
            return f"{expr.operator}({render(expr.left)}, {render(expr.right)})"
        return f"({render(expr.left)} {expr.operator} {render(expr.right)})"
    if isinstance(expr, Unary):
        if expr.operator == "abs":
            return f"abs({render(expr.operand)})"
        return f"(-{render(expr.operand)})"
    if isinstance(expr, Shift):
        return f"{render(expr.operand)}[{expr.bars}]"
    if isinstance(expr, Compare | Logic):
        return f"({render(expr.left)} {expr.operator} {render(expr.right)})"
    if isinstance(expr, Cross):
        return f"crosses_{expr.direction}({render(expr.left)}, {render(expr.right)})"
    if isinstance(expr, NotOp):
        return f"(not {render(expr.operand)})"
    raise TypeError(f"not an expression node: {expr!r}")


def shape_text(expr: Expr) -> str:
    """`expr`'s text with what a kernel takes at run time erased: every number
    and parameter is `#`, every indicator `ind` (its rows are computed before the
    bar loop), every lag `[#]`. Two expressions with the same shape text run in
    the same compiled kernel."""
    if isinstance(expr, Const | Param):
        return "#"
    if isinstance(expr, Bar):
        return expr.field
    if isinstance(expr, BoolConst):
        return "true" if expr.value else "false"
    if isinstance(expr, Indicator):
        return "ind"
    if isinstance(expr, Arith):
        return f"{expr.operator}({shape_text(expr.left)}, {shape_text(expr.right)})"
    if isinstance(expr, Unary):
        return f"{expr.operator}({shape_text(expr.operand)})"
    if isinstance(expr, Shift):
        return f"{shape_text(expr.operand)}[#]"
    if isinstance(expr, Compare | Logic):
        return f"{expr.operator}({shape_text(expr.left)}, {shape_text(expr.right)})"
    if isinstance(expr, Cross):
        return f"cross_{expr.direction}({shape_text(expr.left)}, {shape_text(expr.right)})"
    if isinstance(expr, NotOp):
        return f"not({shape_text(expr.operand)})"
    raise TypeError(f"not an expression node: {expr!r}")
