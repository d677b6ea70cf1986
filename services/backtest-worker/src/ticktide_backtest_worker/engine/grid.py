"""Parameter grids of a strategy: validate and expand (the syntax and counting are
`ticktide_common.backtest_grid`, shared with the gateway).

Parameters missing from a grid take the strategy's defaults. Each value of each
axis is validated once by the strategy's parameter model (its fields carry every
bound); combinations that cannot work (fast >= slow, lower >= upper) are dropped.
The grid is counted before anything is built, so the work is bounded by
`max_combinations` × `RAW_FACTOR` whatever the request says. Problems raise
GridError naming the parameter.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np
from pydantic import ValidationError

from ticktide_common.backtest_grid import (
    Axis,
    GridError,
    GridValue,
    describe_size,
    grid_axes,
    grid_size,
    parse_axis,
)

from .strategies import STRATEGIES, StrategySpec

__all__ = ["RAW_FACTOR", "GridError", "check_grid", "expand_grid", "parse_range"]

# Raw (before dropping infeasible) combinations tolerated per allowed combination.
RAW_FACTOR = 20


def parse_range(parameter: str, spec: str, limit: int) -> list[int | float]:
    """Values of "start:stop:step" (stop included when reached) for one parameter."""
    axis = parse_axis(parameter, spec)
    if axis.count > limit:
        raise GridError(
            f"parameter {parameter!r}: range {spec!r} has {axis.count} values (> {limit})"
        )
    return axis.values()


def _spec(strategy: str, grid: Mapping[str, object]) -> StrategySpec:
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
    return spec


def check_grid(
    strategy: str, grid: Mapping[str, GridValue], max_combinations: int
) -> tuple[StrategySpec, list[Axis]]:
    """The strategy and the grid's axes, counted: bounded work (O(parameters)),
    GridError when the grid is malformed or its size is beyond what expanding may
    cost. Nothing is materialised."""
    spec = _spec(strategy, grid)
    axes = grid_axes(grid)
    raw = grid_size(axes)
    if raw > max(max_combinations, 1) * RAW_FACTOR:
        raise GridError(
            f"grid for {strategy!r} has {raw} combinations ({describe_size(axes)}), "
            f"more than {max_combinations} (limit {max_combinations})"
        )
    return spec, axes


def _validated(spec: StrategySpec, axis: Axis) -> list[Any]:
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


def _feasible_mask(
    spec: StrategySpec, names: list[str], values: list[list[Any]], defaults: dict[str, Any]
) -> np.ndarray | None:
    """Feasibility of every combination at once, in itertools.product order: the
    rules are comparisons of parameters, which numpy evaluates on whole columns.
    None when a rule does not vectorise (then each combination is checked)."""
    shape = tuple(len(v) for v in values)
    size = math.prod(shape)
    columns: dict[str, Any] = dict(defaults)
    for i, (name, axis) in enumerate(zip(names, values, strict=True)):
        along = [1] * len(shape)
        along[i] = len(axis)
        columns[name] = np.broadcast_to(np.asarray(axis).reshape(along), shape).ravel()
    try:
        mask = np.asarray(spec.feasible(SimpleNamespace(**columns)))
        if mask.dtype != np.bool_:
            return None
        return np.broadcast_to(mask, (size,))
    except (TypeError, ValueError):  # e.g. `and` between arrays: check one by one
        return None


def expand_grid(
    strategy: str, grid: Mapping[str, GridValue], max_combinations: int
) -> list[dict[str, float | int]]:
    """Every valid parameter combination of `grid` for `strategy`, in grid order."""
    spec, axes = check_grid(strategy, grid, max_combinations)
    defaults = spec.params_model().model_dump()
    names = [axis.name for axis in axes]
    values = [_validated(spec, axis) for axis in axes]
    too_many = GridError(
        f"grid for {strategy!r} has more than {max_combinations} combinations"
        f" (limit {max_combinations})"
    )
    mask = _feasible_mask(spec, names, values, defaults) if names else None
    if mask is not None:
        if int(mask.sum()) > max_combinations:
            raise too_many
        chosen_sets: Iterable[tuple[Any, ...]] = itertools.compress(
            itertools.product(*values), mask.tolist()
        )
    else:
        chosen_sets = itertools.product(*values)
    combinations: list[dict[str, float | int]] = []
    for chosen in chosen_sets:
        params = {**defaults, **dict(zip(names, chosen, strict=True))}
        # Fields are validated one by one above; the feasibility rule reads attributes.
        if mask is None and not spec.feasible(SimpleNamespace(**params)):
            continue
        combinations.append(params)
        if len(combinations) > max_combinations:
            raise too_many
    if not combinations:
        raise GridError(
            f"grid for {strategy!r} has no valid combination"
            " (check constraints such as fast < slow, lower < upper)"
        )
    return combinations
