"""The grid syntax: axes counted exactly and without building them, overflow and
non-finite ranges refused by name, lists bounded before deduplication."""

from __future__ import annotations

import pytest

from ticktide_common.backtests.grid import (
    MAX_AXIS_VALUES,
    MAX_LIST_ITEMS,
    GridError,
    grid_axes,
    grid_size,
    normalised_grid,
    parse_axis,
)


def test_ranges_are_counted_exactly_with_their_stop_when_reached() -> None:
    assert parse_axis("k", "1:3:1").count == 3
    assert parse_axis("k", "1:4:2").values() == [1, 3]
    # 0.3 - 0.1 is not 0.2 in binary floating point; the count is decimal-exact.
    assert parse_axis("k", "0.1:0.3:0.1").values() == [0.1, 0.2, 0.3]
    assert parse_axis("k", "0.5:2.5:0.5").values() == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert parse_axis("k", "0:0.99:0.33").values() == [0.0, 0.33, 0.66, 0.99]
    assert parse_axis("k", f"1:{MAX_AXIS_VALUES}:1").count == MAX_AXIS_VALUES


def test_integer_ranges_stay_integers_and_others_are_floats() -> None:
    assert all(isinstance(v, int) for v in parse_axis("k", "5:50:5").values())
    assert all(isinstance(v, float) for v in parse_axis("k", "5.0:6:1").values())


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("1:40000:1", ["'period'", "40000 values", f"{MAX_AXIS_VALUES} allowed"]),
        ("0:1e308:1e-300", ["'period'", "'1e-300'", "out of range"]),
        ("0:1e300:1e-20", ["'period'", "about 1e320 values", "allowed"]),
        ("0:1e400:1", ["'period'", "out of range"]),
        ("0:1e999999999:1", ["'period'", "out of range"]),
        ("0:10:1e-400", ["'period'", "out of range"]),
        ("0:inf:1", ["'period'", "finite"]),
        ("nan:1:1", ["'period'", "finite"]),
        ("0:10:0", ["'period'", "positive step"]),
        ("0:10:-1", ["'period'", "positive step"]),
        ("10:0:1", ["'period'", "stop below start"]),
        ("1:2", ["'period'", "start:stop:step"]),
        ("a:2:1", ["'period'", "not a number"]),
        ("1:" + "9" * 100 + ":1", ["'period'", "longer than"]),
    ],
)
def test_bad_ranges_say_which_axis_and_why(spec: str, words: list[str]) -> None:
    with pytest.raises(GridError) as caught:
        parse_axis("period", spec)
    for word in words:
        assert word in str(caught.value)


def test_lists_are_bounded_before_dedup_and_deduplicated_in_order() -> None:
    assert parse_axis("k", [3, 1, 3, 1.0, 2]).values() == [3, 1, 2]
    with pytest.raises(GridError, match=f"list of {MAX_LIST_ITEMS + 1} values"):
        parse_axis("k", [7] * (MAX_LIST_ITEMS + 1))
    for bad, says in [
        ([True], "not a number"),
        (["5"], "not a number"),
        ([float("inf")], "not a finite number"),
        ([float("nan")], "not a finite number"),
        ([10**400], "not a finite number"),
        ([], "no values"),
    ]:
        with pytest.raises(GridError, match=says):
            parse_axis("k", bad)
    with pytest.raises(GridError, match="expected a list"):
        parse_axis("k", 5)


def test_the_size_is_the_product_of_counts_without_building_axes() -> None:
    axes = grid_axes({"fast": "1:1000:1", "slow": "1:1000:1", "signal": "1:1000:1"})
    assert grid_size(axes) == 10**9
    assert all(axis.items is None for axis in axes)  # ranges stay arithmetic


def test_the_normalised_grid_is_compact() -> None:
    grid = {"fast": " 5 : 50:5 ", "slow": [50, 50, 100, 50.0], "k": "1.0:1.5:0.25"}
    assert normalised_grid(grid) == {"fast": "5:50:5", "slow": [50, 100], "k": "1.0:1.5:0.25"}
