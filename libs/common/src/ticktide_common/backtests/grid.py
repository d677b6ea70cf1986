"""Parameter grids: the syntax shared by the gateway and the backtest workers (each
axis is a list of numbers or a range "start:stop:step", stop included when
reached), and their checking and expansion against a strategy of the catalogue.
Pure Python: no I/O, no numpy (the workers keep a vectorised `expand_grid` that
must agree with this one).

Everything that grows with the request is bounded before it is built: an axis is
counted from its list length or by exact integer arithmetic on its range, the
grid's size is the product of those counts (O(axes)), and only then are values
materialised. Problems raise `GridError` naming the axis, its count and the limit.

Parameters missing from a grid take the strategy's defaults. Each value of each
axis is validated once by the strategy's parameter model (its fields carry every
bound); combinations that break a constraint (fast >= slow, lower >= upper) are
dropped. The work is bounded by `max_combinations` × `RAW_FACTOR`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, DecimalException, InvalidOperation
from types import SimpleNamespace
from typing import Any

from pydantic import ValidationError

from ticktide_common.backtests.catalogue import CATALOGUE, StrategyDefinition

__all__ = [
    "MAX_AXES",
    "MAX_AXIS_VALUES",
    "MAX_LIST_ITEMS",
    "MAX_NUMBER_CHARS",
    "RAW_FACTOR",
    "Axis",
    "GridError",
    "GridValue",
    "check_grid",
    "describe_size",
    "expand_grid",
    "grid_axes",
    "grid_size",
    "normalised_grid",
    "no_valid_combination",
    "parse_axis",
    "strategy_definition",
    "too_many_combinations",
    "validated_values",
]

MAX_AXES = 32  # parameters in one grid (strategies have a handful)
MAX_AXIS_VALUES = 1000  # distinct values of one parameter
MAX_LIST_ITEMS = 1000  # items of one list as sent, before duplicates are dropped
MAX_NUMBER_CHARS = 40  # characters of one number of a range
# Decimal exponents a range's numbers may have: beyond them the exact count would
# need integers of thousands of digits, and no strategy parameter lives there.
_MIN_EXPONENT, _MAX_EXPONENT = -30, 308
# Raw (before dropping infeasible) combinations tolerated per allowed combination.
RAW_FACTOR = 20

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


def strategy_definition(
    strategy: str, grid: Mapping[str, object], definition: StrategyDefinition | None = None
) -> StrategyDefinition:
    """The catalogue's strategy (or `definition`, a language strategy's), once every
    parameter of `grid` is known to it."""
    spec = definition if definition is not None else CATALOGUE.get(strategy)
    if spec is None:
        raise GridError(f"unknown strategy {strategy!r}; known: {', '.join(sorted(CATALOGUE))}")
    fields = spec.params_model.model_fields
    unknown = [name for name in grid if name not in fields]
    if unknown:
        known = ", ".join(fields) or "none"
        raise GridError(
            f"strategy {strategy!r} has no parameter {unknown[0]!r} (parameters: {known})"
        )
    return spec


def check_grid(
    strategy: str,
    grid: Mapping[str, GridValue],
    max_combinations: int,
    definition: StrategyDefinition | None = None,
) -> tuple[StrategyDefinition, list[Axis]]:
    """The strategy and the grid's axes, counted: bounded work (O(parameters)),
    GridError when the grid is malformed or its size is beyond what expanding may
    cost. Nothing is materialised."""
    spec = strategy_definition(strategy, grid, definition)
    axes = grid_axes(grid)
    raw = grid_size(axes)
    if raw > max(max_combinations, 1) * RAW_FACTOR:
        raise GridError(
            f"grid for {strategy!r} has {raw} combinations ({describe_size(axes)}), "
            f"more than {max_combinations} (limit {max_combinations})"
        )
    return spec, axes


def validated_values(spec: StrategyDefinition, axis: Axis) -> list[Any]:
    """The axis's values as the parameter model takes them (coerced, deduplicated)."""
    values: dict[Any, None] = {}
    for value in axis.values():
        try:
            params = spec.params_model.model_validate({axis.name: value})
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or spec.name
            raise GridError(
                f"strategy {spec.name!r} parameter {where!r}: {error['msg']}"
                f" (got {error.get('input')!r})"
            ) from None
        values[getattr(params, axis.name)] = None
    return list(values)


def too_many_combinations(strategy: str, max_combinations: int) -> GridError:
    return GridError(
        f"grid for {strategy!r} has more than {max_combinations} combinations"
        f" (limit {max_combinations})"
    )


def no_valid_combination(strategy: str) -> GridError:
    return GridError(
        f"grid for {strategy!r} has no valid combination"
        " (check constraints such as fast < slow, lower < upper)"
    )


def expand_grid(
    strategy: str,
    grid: Mapping[str, GridValue],
    max_combinations: int,
    definition: StrategyDefinition | None = None,
) -> list[dict[str, float | int]]:
    """Every valid parameter combination of `grid` for `strategy` (or for
    `definition`, a language strategy's), in grid order."""
    spec, axes = check_grid(strategy, grid, max_combinations, definition)
    defaults = spec.defaults()
    names = [axis.name for axis in axes]
    values = [validated_values(spec, axis) for axis in axes]
    combinations: list[dict[str, float | int]] = []
    for chosen in itertools.compress(
        itertools.product(*values), _feasible_flags(spec, names, values, defaults)
    ):
        combinations.append({**defaults, **dict(zip(names, chosen, strict=True))})
        if len(combinations) > max_combinations:
            raise too_many_combinations(strategy, max_combinations)
    if not combinations:
        raise no_valid_combination(strategy)
    return combinations


def _feasible_flags(
    spec: StrategyDefinition, names: list[str], values: list[list[Any]], defaults: dict[str, Any]
) -> Iterator[bool]:
    """Whether each combination, in itertools.product order, satisfies the strategy's
    constraints: read by position from the tuple (no mapping built per combination)
    when the definition's rule is its constraints, else through `spec.feasible`."""
    if type(spec).feasible is not StrategyDefinition.feasible:
        for chosen in itertools.product(*values):
            params = {**defaults, **dict(zip(names, chosen, strict=True))}
            yield bool(spec.feasible(SimpleNamespace(**params)))
        return
    position = {name: i for i, name in enumerate(names)}
    checks = [
        (c.compare, position.get(c.left), defaults.get(c.left), position.get(c.right),
         defaults.get(c.right))
        for c in spec.constraints
    ]  # fmt: skip
    for chosen in itertools.product(*values):
        yield all(
            compare(chosen[li] if li is not None else left, chosen[ri] if ri is not None else right)
            for compare, li, left, ri, right in checks
        )
