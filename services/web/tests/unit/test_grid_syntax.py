"""The backtest form's grid syntax: numbers, lists, ranges (stop inclusive, float
steps), the schema's bounds, and a clear message for everything else."""

from __future__ import annotations

import pytest

from ticktide_web.grid_syntax import (
    MAX_VALUES,
    GridSyntaxError,
    ParamSpec,
    combinations,
    compact_values,
    format_values,
    param_specs,
    parse_symbols,
    parse_values,
)

FAST = ParamSpec("fast", integer=True, minimum=1, maximum=5000, default=10)
K = ParamSpec("k", integer=False, exclusive_minimum=0, maximum=10, default=2.0)


def test_a_number_is_one_value() -> None:
    assert parse_values("10") == [10]
    assert parse_values(" 10 ", FAST) == [10]
    assert isinstance(parse_values("10", FAST)[0], int)
    assert parse_values("2.5", K) == [2.5]
    assert parse_values("-1.5") == [-1.5]
    assert parse_values("1e2") == [100.0]


def test_a_list_keeps_its_order_without_repeats() -> None:
    assert parse_values("5,10,15") == [5, 10, 15]
    assert parse_values("15, 5 ,10,5", FAST) == [15, 5, 10]


def test_a_range_includes_its_stop() -> None:
    assert parse_values("5:50:5") == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
    assert parse_values("5:15:5", FAST) == [5, 10, 15]
    assert parse_values("5:17:5") == [5, 10, 15]  # 20 would pass the stop
    assert parse_values("7:7:1") == [7]


def test_a_range_with_a_float_step_reaches_its_stop_exactly() -> None:
    assert parse_values("0.1:0.3:0.1", K) == [0.1, 0.2, 0.3]
    assert parse_values("1:2:0.25", K) == [1, 1.25, 1.5, 1.75, 2]
    assert parse_values("0.5:3:0.5", K)[-1] == 3.0


def test_lists_and_ranges_mix() -> None:
    assert parse_values("2,5:15:5,100", FAST) == [2, 5, 10, 15, 100]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "enter a number"),
        ("   ", "enter a number"),
        ("abc", "'abc' is not a number"),
        ("5,,10", "a value between every two commas"),
        ("5,", "a value between every two commas"),
        ("nan", "is not a number"),
        ("inf", "is not a number"),
        ("1_000", "is not a number"),
        ("5:50", "is not a range"),
        ("5:50:5:1", "is not a range"),
        ("5:x:5", "'x' is not a number"),
        ("5:50:0", "step of '5:50:0' must be positive"),
        ("5:50:-5", "must be positive"),
        ("50:5:5", "the stop 5 is below the start"),
    ],
)
def test_bad_text_is_rejected_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(GridSyntaxError, match="^fast: .*" + _escape(message)):
        parse_values(text, FAST)


def _escape(text: str) -> str:
    import re

    return re.escape(text)


def test_more_than_the_limit_of_values_is_rejected() -> None:
    with pytest.raises(GridSyntaxError, match=f"gives 5000 values; at most {MAX_VALUES}"):
        parse_values("1:5000:1", FAST)
    assert len(parse_values(f"1:{MAX_VALUES}:1", FAST)) == MAX_VALUES
    with pytest.raises(GridSyntaxError, match=f"more than {MAX_VALUES} values"):
        parse_values(f"1:{MAX_VALUES}:1,5000", FAST)
    with pytest.raises(GridSyntaxError, match="gives 4 values; at most"):
        parse_values("1:4:1", max_values=3)


def test_the_schema_bounds_and_type_are_checked() -> None:
    with pytest.raises(GridSyntaxError, match="fast must be at least 1; got 0"):
        parse_values("0:10:5", FAST)
    with pytest.raises(GridSyntaxError, match="fast must be at most 5000; got 6000"):
        parse_values("6000", FAST)
    with pytest.raises(GridSyntaxError, match="fast takes whole numbers; 5.5 is not one"):
        parse_values("5.5", FAST)
    with pytest.raises(GridSyntaxError, match="fast takes whole numbers; 1.5 is not one"):
        parse_values("1:3:0.5", FAST)
    with pytest.raises(GridSyntaxError, match="k must be greater than 0; got 0"):
        parse_values("0", K)
    assert parse_values("5.0", FAST) == [5]


def test_specs_come_from_the_strategies_json_schema() -> None:
    schema = {
        "properties": {
            "period": {
                "type": "integer",
                "minimum": 2,
                "maximum": 1000,
                "default": 14,
                "description": "Wilder RSI period (bars)",
            },
            "k": {"type": "number", "exclusiveMinimum": 0, "maximum": 10, "default": 2.0},
        }
    }
    period, k = param_specs(schema)
    assert period == ParamSpec(
        "period", True, minimum=2, maximum=1000, default=14, description="Wilder RSI period (bars)"
    )
    assert period.default_text == "14"
    assert "(bars). Whole number, from 2 up to 1000; default 14" in period.help_text()
    assert "stop is included" in period.help_text()
    assert k.integer is False and k.exclusive_minimum == 0
    assert k.default_text == "2"
    assert "number, above 0 up to 10" in k.help_text()
    assert param_specs({"properties": {}}) == []


def test_symbols_are_upper_cased_and_split_on_commas_or_spaces() -> None:
    assert parse_symbols("btcusdt") == ["BTCUSDT"]
    assert parse_symbols("BTCUSDT, ethusdt BTCUSDT") == ["BTCUSDT", "ETHUSDT"]
    with pytest.raises(GridSyntaxError, match="enter a trading pair"):
        parse_symbols(" , ")
    with pytest.raises(GridSyntaxError, match="'BTC-USD' is not a trading pair"):
        parse_symbols("BTC-USD")
    with pytest.raises(GridSyntaxError, match="at most 2 symbols"):
        parse_symbols("AAAA,BBBB,CCCC", limit=2)


def test_values_print_back_as_field_text_and_grids_count() -> None:
    assert format_values([5, 10, 2.5, 3.0]) == "5,10,2.5,3"
    assert parse_values(format_values([0.1, 0.2, 7])) == [0.1, 0.2, 7]
    assert combinations({"fast": [5, 10, 15], "slow": [20, 30]}) == 6
    assert combinations({}) == 1


def test_evenly_spaced_values_print_back_as_their_range() -> None:
    assert compact_values([5, 10, 15, 20]) == "5:20:5"
    assert compact_values([0.1, 0.2, 0.3]) == "0.1:0.3:0.1"
    assert compact_values([5, 10]) == "5,10"
    assert compact_values([5, 10, 20]) == "5,10,20"
    assert compact_values([15, 10, 5]) == "15,10,5"
    for values in ([5, 10, 15, 20], [0.1, 0.2, 0.3], [1, 2.5, 4]):
        assert parse_values(compact_values(values)) == values
