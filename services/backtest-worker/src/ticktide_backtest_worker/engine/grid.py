"""Parameter grids: parse lists and "start:stop:step" ranges, validate, expand.

Parameters missing from a grid take the strategy's defaults. Every combination is
validated by the strategy's parameter model; combinations that cannot work (fast >=
slow, lower >= upper) are dropped. Problems raise GridError naming the parameter.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from .strategies import STRATEGIES

GridValue = Sequence[float | int] | str
# Raw (before dropping infeasible) combinations tolerated per allowed combination.
_RAW_FACTOR = 20


class GridError(ValueError):
    """A parameter grid that cannot be run; the message says which part is wrong."""


def _number(text: str, parameter: str, spec: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise GridError(
            f"parameter {parameter!r}: {text!r} in range {spec!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise GridError(f"parameter {parameter!r}: range {spec!r} must be finite")
    stripped = text.strip()
    if stripped.lstrip("+-").isdigit():
        return int(stripped)
    return value


def parse_range(parameter: str, spec: str, limit: int) -> list[int | float]:
    """Values of "start:stop:step" (stop included when reached) for one parameter."""
    parts = spec.split(":")
    if len(parts) != 3:
        raise GridError(f"parameter {parameter!r}: range {spec!r} is not start:stop:step")
    start, stop, step = (_number(p, parameter, spec) for p in parts)
    if step <= 0:
        raise GridError(f"parameter {parameter!r}: range {spec!r} needs a positive step")
    if stop < start:
        raise GridError(f"parameter {parameter!r}: range {spec!r} has stop below start")
    count = int(math.floor((stop - start) / step + 1e-9)) + 1
    if count > limit:
        raise GridError(f"parameter {parameter!r}: range {spec!r} has {count} values (> {limit})")
    if all(isinstance(v, int) for v in (start, stop, step)):
        return [start + i * step for i in range(count)]
    return [round(start + i * step, 12) for i in range(count)]


def _values(parameter: str, raw: Any, limit: int) -> list[Any]:
    if isinstance(raw, str):
        values: list[Any] = parse_range(parameter, raw, limit)
    elif isinstance(raw, list | tuple):
        values = list(raw)
    else:
        raise GridError(f"parameter {parameter!r}: expected a list of values or start:stop:step")
    if not values:
        raise GridError(f"parameter {parameter!r}: no values")
    unique: list[Any] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GridError(f"parameter {parameter!r}: {value!r} is not a number") from None
        if value not in unique:
            unique.append(value)
    return unique


def expand_grid(
    strategy: str, grid: Mapping[str, GridValue], max_combinations: int
) -> list[dict[str, float | int]]:
    """Every valid parameter combination of `grid` for `strategy`, in grid order."""
    spec = STRATEGIES.get(strategy)
    if spec is None:
        raise GridError(f"unknown strategy {strategy!r}; known: {', '.join(sorted(STRATEGIES))}")
    fields = spec.params_model.model_fields
    unknown = [name for name in grid if name not in fields]
    if unknown:
        known = ", ".join(fields) or "none"
        raise GridError(
            f"strategy {strategy!r} has no parameter {unknown[0]!r} (parameters: {known})"
        )
    raw_limit = max(max_combinations, 1) * _RAW_FACTOR
    names = list(grid)
    axes = [_values(name, grid[name], raw_limit) for name in names]
    if math.prod(len(axis) for axis in axes) > raw_limit:
        raise GridError(
            f"grid for {strategy!r} has more than {max_combinations} combinations"
            f" (limit {max_combinations})"
        )
    combinations: list[dict[str, float | int]] = []
    for values in itertools.product(*axes):
        try:
            params = spec.params_model.model_validate(dict(zip(names, values, strict=True)))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or strategy
            raise GridError(
                f"strategy {strategy!r} parameter {where!r}: {error['msg']}"
                f" (got {error.get('input')!r})"
            ) from None
        if not spec.feasible(params):
            continue
        combinations.append(params.model_dump())
        if len(combinations) > max_combinations:
            raise GridError(
                f"grid for {strategy!r} has more than {max_combinations} combinations"
                f" (limit {max_combinations})"
            )
    if not combinations:
        raise GridError(
            f"grid for {strategy!r} has no valid combination"
            " (check constraints such as fast < slow, lower < upper)"
        )
    return combinations
