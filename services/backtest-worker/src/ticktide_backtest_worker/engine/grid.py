"""Parameter grids, vectorised: the same expansion as
`ticktide_common.backtests.grid.expand_grid` (the gateway's, pure Python), with
the feasibility of every combination evaluated at once by numpy. Both must give
the same combinations in the same order and the same errors (tests/unit/test_grid.py).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from ticktide_common.backtests.catalogue import StrategyDefinition
from ticktide_common.backtests.grid import (
    RAW_FACTOR,
    GridError,
    GridValue,
    check_grid,
    no_valid_combination,
    parse_axis,
    too_many_combinations,
    validated_values,
)

__all__ = ["RAW_FACTOR", "GridError", "check_grid", "expand_grid", "parse_range"]


def parse_range(parameter: str, spec: str, limit: int) -> list[int | float]:
    """Values of "start:stop:step" (stop included when reached) for one parameter."""
    axis = parse_axis(parameter, spec)
    if axis.count > limit:
        raise GridError(
            f"parameter {parameter!r}: range {spec!r} has {axis.count} values (> {limit})"
        )
    return axis.values()


def _feasible_mask(
    spec: StrategyDefinition,
    names: list[str],
    values: list[list[Any]],
    defaults: dict[str, Any],
) -> np.ndarray | None:
    """Feasibility of every combination at once, in itertools.product order: the
    constraints are comparisons of parameters, which numpy evaluates on whole columns.
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
    defaults = spec.defaults()
    names = [axis.name for axis in axes]
    values = [validated_values(spec, axis) for axis in axes]
    mask = _feasible_mask(spec, names, values, defaults) if names else None
    if mask is not None:
        if int(mask.sum()) > max_combinations:
            raise too_many_combinations(strategy, max_combinations)
        chosen_sets: Iterable[tuple[Any, ...]] = itertools.compress(
            itertools.product(*values), mask.tolist()
        )
    else:
        chosen_sets = itertools.product(*values)
    combinations: list[dict[str, float | int]] = []
    for chosen in chosen_sets:
        params = {**defaults, **dict(zip(names, chosen, strict=True))}
        # Fields are validated one by one above; the constraints read attributes.
        if mask is None and not spec.feasible(SimpleNamespace(**params)):
            continue
        combinations.append(params)
        if len(combinations) > max_combinations:
            raise too_many_combinations(strategy, max_combinations)
    if not combinations:
        raise no_valid_combination(strategy)
    return combinations
