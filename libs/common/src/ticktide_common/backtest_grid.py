"""The parameter-grid syntax shared by the gateway and the backtest workers: each
axis is a list of numbers or a range "start:stop:step" (stop included when
reached). Pure: no I/O, no strategy knowledge.

Everything that grows with the request is bounded before it is built: an axis is
counted from its list length or by exact integer arithmetic on its range, the
grid's size is the product of those counts (O(axes)), and only then are values
materialised. Problems raise `GridError` naming the axis, its count and the limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, DecimalException, InvalidOperation
from typing import Any

__all__ = [
    "MAX_AXES",
    "MAX_AXIS_VALUES",
    "MAX_LIST_ITEMS",
    "MAX_NUMBER_CHARS",
    "Axis",
    "GridError",
    "GridValue",
    "describe_size",
    "grid_axes",
    "grid_size",
    "normalised_grid",
    "parse_axis",
]

MAX_AXES = 32  # parameters in one grid (strategies have a handful)
MAX_AXIS_VALUES = 1000  # distinct values of one parameter
MAX_LIST_ITEMS = 1000  # items of one list as sent, before duplicates are dropped
MAX_NUMBER_CHARS = 40  # characters of one number of a range
# Decimal exponents a range's numbers may have: beyond them the exact count would
# need integers of thousands of digits, and no strategy parameter lives there.
_MIN_EXPONENT, _MAX_EXPONENT = -30, 308

_INTEGER = re.compile(r"[+-]?\d+")

GridValue = Sequence[Any] | str


class GridError(ValueError):
    """A parameter grid that cannot be run; the message says which part is wrong."""


@dataclass(frozen=True)
class Axis:
    """One parameter's values, counted but not yet built: a deduplicated list, or a
    range kept as scaled integers (value i = (start + i·step) × 10^exponent)."""

    name: str
    count: int
    items: tuple[int | float, ...] | None = None
    start: int = 0
    step: int = 0
    exponent: int = 0
    integral: bool = True
    text: str = ""

    def values(self) -> list[int | float]:
        """The axis's values in order (at most MAX_AXIS_VALUES of them)."""
        if self.items is not None:
            return list(self.items)
        scaled = (self.start + i * self.step for i in range(self.count))
        if self.integral:
            return list(scaled)
        return [float(Decimal(v).scaleb(self.exponent)) for v in scaled]

    def normalised(self) -> list[int | float] | str:
        """What is stored for this axis: the range's text (trimmed), or the list."""
        return self.text if self.items is None else list(self.items)


def _number(parameter: str, text: str, spec: str) -> Decimal:
    stripped = text.strip()
    if len(stripped) > MAX_NUMBER_CHARS:
        raise GridError(
            f"parameter {parameter!r}: {stripped[:20]!r}... in range is longer than "
            f"{MAX_NUMBER_CHARS} characters"
        )
    try:
        value = Decimal(stripped)
    except InvalidOperation:
        raise GridError(
            f"parameter {parameter!r}: {stripped!r} in range {spec!r} is not a number"
        ) from None
    if not value.is_finite():
        raise GridError(f"parameter {parameter!r}: range {spec!r} must be finite")
    if value and not _MIN_EXPONENT <= value.adjusted() <= _MAX_EXPONENT:
        raise GridError(
            f"parameter {parameter!r}: {stripped!r} in range {spec!r} is out of range "
            f"(|value| from 1e{_MIN_EXPONENT} to 1e{_MAX_EXPONENT}, or 0)"
        )
    return value


def _scaled(value: Decimal, exponent: int) -> int:
    """`value` × 10^-exponent as an exact integer (exponent <= value's exponent)."""
    sign, digits, own = value.as_tuple()
    assert isinstance(own, int)  # finite: checked by _number
    magnitude = int("".join(map(str, digits)) or "0") * 10 ** (own - exponent)
    return -magnitude if sign else magnitude


def _range_axis(parameter: str, spec: str) -> Axis:
    parts = spec.split(":")
    if len(parts) != 3:
        raise GridError(f"parameter {parameter!r}: range {spec!r} is not start:stop:step")
    start, stop, step = (_number(parameter, p, spec) for p in parts)
    if step <= 0:
        raise GridError(f"parameter {parameter!r}: range {spec!r} needs a positive step")
    if stop < start:
        raise GridError(f"parameter {parameter!r}: range {spec!r} has stop below start")
    exponent = min(int(d.as_tuple().exponent) for d in (start, stop, step))
    first, last, stride = (_scaled(d, exponent) for d in (start, stop, step))
    count = (last - first) // stride + 1  # exact: integers of at most ~340 digits
    if count > MAX_AXIS_VALUES:
        raise GridError(
            f"parameter {parameter!r}: range {spec!r} has {_count_text(count)} values, "
            f"more than the {MAX_AXIS_VALUES} allowed per parameter"
        )
    # The numbers as written (trimmed): "1.0" stays a float range when sent again.
    text = ":".join(p.strip() for p in parts)
    if all(_INTEGER.fullmatch(p.strip()) for p in parts):
        return Axis(parameter, count, start=int(start), step=int(step), text=text)
    return Axis(
        parameter, count, start=first, step=stride, exponent=exponent, integral=False, text=text
    )


def _count_text(count: int) -> str:
    return str(count) if count < 10**15 else f"about 1e{len(str(count)) - 1}"


def _list_axis(parameter: str, raw: Sequence[Any]) -> Axis:
    if len(raw) > MAX_LIST_ITEMS:
        raise GridError(
            f"parameter {parameter!r}: a list of {len(raw)} values, more than the "
            f"{MAX_LIST_ITEMS} allowed per parameter"
        )
    for value in raw:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GridError(f"parameter {parameter!r}: {value!r} is not a number")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int beyond any float
            finite = False
        if not finite:
            raise GridError(f"parameter {parameter!r}: {value!r} is not a finite number")
    unique = tuple(dict.fromkeys(raw))  # O(n); 1 and 1.0 are one value, the first kept
    if not unique:
        raise GridError(f"parameter {parameter!r}: no values")
    return Axis(parameter, len(unique), items=unique)


def parse_axis(parameter: str, raw: object) -> Axis:
    """One parameter's axis, counted; its values are built only by `Axis.values`."""
    if isinstance(raw, str):
        try:
            return _range_axis(parameter, raw)
        except DecimalException:  # beyond Decimal's own exponent range
            raise GridError(
                f"parameter {parameter!r}: range {raw[:60]!r} is out of range"
            ) from None
    if isinstance(raw, list | tuple):
        return _list_axis(parameter, raw)
    raise GridError(f"parameter {parameter!r}: expected a list of values or start:stop:step")


def grid_axes(grid: Mapping[str, object]) -> list[Axis]:
    """Every axis of `grid`, counted (bounded work: at most MAX_AXES axes)."""
    if len(grid) > MAX_AXES:
        raise GridError(f"the grid has {len(grid)} parameters, more than {MAX_AXES}")
    return [parse_axis(name, raw) for name, raw in grid.items()]


def grid_size(axes: Sequence[Axis]) -> int:
    """Combinations before constraints: the product of the axes' counts (exact)."""
    return math.prod(axis.count for axis in axes)


def describe_size(axes: Sequence[Axis]) -> str:
    """ "fast 10 × slow 19" — how a grid's size came about, for error messages."""
    return " × ".join(f"{axis.name} {axis.count}" for axis in axes) or "no parameters"


def normalised_grid(grid: Mapping[str, object]) -> dict[str, list[int | float] | str]:
    """The grid as it is stored: ranges as checked text, lists deduplicated."""
    return {axis.name: axis.normalised() for axis in grid_axes(grid)}
