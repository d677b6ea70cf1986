"""expand_grid: lists and ranges, defaults, dropped combinations, validation messages;
the engine's vectorised expansion agrees with the catalogue's pure-Python one."""

from __future__ import annotations

import pytest

from ticktide_backtest_worker.engine import (
    STRATEGIES,
    GridError,
    expand_grid,
    parse_range,
)
from ticktide_common.backtests import grid as contract
from ticktide_common.backtests.catalogue import CATALOGUE, StrategyDefinition, strategy_schemas


def test_the_contract_sma_grid_has_174_combinations_all_fast_below_slow() -> None:
    combos = expand_grid("sma_cross", {"fast": "5:50:5", "slow": "20:200:10"}, 1000)
    assert len(combos) == 174
    assert all(c["fast"] < c["slow"] for c in combos)
    assert combos[0] == {"fast": 5, "slow": 20}
    assert all(isinstance(c["fast"], int) for c in combos)


def test_ranges_include_their_stop_and_handle_floats() -> None:
    assert parse_range("k", "1:3:1", 100) == [1, 2, 3]
    assert parse_range("k", "0.5:2.5:0.5", 100) == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert parse_range("k", "1:4:2", 100) == [1, 3]


def test_missing_parameters_take_defaults_and_lists_are_deduplicated() -> None:
    combos = expand_grid("rsi_reversion", {"period": [7, 7, 14]}, 10)
    assert combos == [
        {"period": 7, "lower": 30.0, "upper": 70.0},
        {"period": 14, "lower": 30.0, "upper": 70.0},
    ]
    assert expand_grid("buy_and_hold", {}, 1) == [{}]


@pytest.mark.parametrize(
    ("strategy", "grid", "words"),
    [
        ("nope", {}, ["unknown strategy 'nope'", "sma_cross"]),
        ("sma_cross", {"fats": [5]}, ["no parameter 'fats'", "fast, slow"]),
        ("sma_cross", {"fast": []}, ["'fast'", "no values"]),
        ("sma_cross", {"fast": "5:50"}, ["'fast'", "start:stop:step"]),
        ("sma_cross", {"fast": "5:50:0"}, ["'fast'", "positive step"]),
        ("sma_cross", {"fast": "50:5:5"}, ["'fast'", "stop below start"]),
        ("sma_cross", {"fast": "a:5:1"}, ["'fast'", "not a number"]),
        ("sma_cross", {"fast": [0]}, ["'fast'", "greater than or equal to 1", "got 0"]),
        ("sma_cross", {"fast": [5.5]}, ["'fast'", "integer"]),
        ("sma_cross", {"fast": ["5"]}, ["'fast'", "not a number"]),
        ("sma_cross", {"fast": 5}, ["'fast'", "list"]),
        ("bollinger_reversion", {"k": [0]}, ["'k'", "greater than 0"]),
        ("rsi_reversion", {"upper": [101]}, ["'upper'", "less than or equal to 100"]),
        ("sma_cross", {"fast": [50], "slow": [20]}, ["no valid combination", "fast < slow"]),
        ("sma_cross", {"fast": "5:50:5", "slow": "20:200:10"}, ["more than 100", "limit 100"]),
        ("sma_cross", {"fast": "1:100000:1"}, ["'fast'", "values"]),
    ],
)
def test_bad_grids_say_what_is_wrong(strategy: str, grid: dict, words: list[str]) -> None:
    with pytest.raises(GridError) as caught:
        expand_grid(strategy, grid, 100)
    for word in words:
        assert word in str(caught.value)


def test_schemas_name_the_contract_parameters_and_forbid_others() -> None:
    schemas = strategy_schemas()
    expected = {
        "buy_and_hold": set(),
        "sma_cross": {"fast", "slow"},
        "ema_cross": {"fast", "slow"},
        "rsi_reversion": {"period", "lower", "upper"},
        "macd": {"fast", "slow", "signal"},
        "bollinger_reversion": {"period", "k"},
        "donchian_breakout": {"entry", "exit"},
    }
    assert set(schemas) == set(expected) == set(STRATEGIES)
    for name, params in expected.items():
        schema = schemas[name]["parameters"]
        assert set(schema.get("properties", {})) == params
        assert schema["additionalProperties"] is False
        assert schemas[name]["description"]
    assert schemas["sma_cross"]["parameters"]["properties"]["fast"]["minimum"] == 1


def test_run_grid_refuses_bad_parameters_by_name() -> None:
    import numpy as np

    from ticktide_backtest_worker.engine import Bars, run_grid

    price = np.linspace(1.0, 2.0, 10)
    bars = Bars(np.arange(10) * 3600, price, price, price, price, price)
    costs = {"fee": 0.0, "slippage_bps": 0.0, "initial_cash": 1.0, "interval": "1h"}
    with pytest.raises(GridError, match="'slow'"):
        run_grid(bars, "sma_cross", [{"fast": 5, "slow": "x"}], **costs)
    with pytest.raises(GridError, match="'bogus'"):
        run_grid(bars, "sma_cross", [{"bogus": 1}], **costs)
    with pytest.raises(GridError, match="unknown strategy"):
        run_grid(bars, "martingale", [{}], **costs)
    with pytest.raises(ValueError, match="fee"):
        run_grid(bars, "buy_and_hold", [{}], **{**costs, "fee": 1.5})
    with pytest.raises(ValueError, match="no bars"):
        run_grid(bars.window(0, 0), "buy_and_hold", [{}], **costs)


def test_feasibility_on_whole_columns_matches_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = {"fast": "1:30:1", "slow": [5, 10.0, 25, 40]}
    at_once = expand_grid("sma_cross", grid, 1000)
    assert len(at_once) == 4 + 9 + 24 + 30 and all(c["fast"] < c["slow"] for c in at_once)
    assert all(type(c["slow"]) is int for c in at_once)  # 10.0 is the int field's 10

    # A rule numpy cannot evaluate on columns (`bool()` of an array) is checked per set.
    class ScalarOnly(StrategyDefinition):
        def feasible(self, params: object) -> bool:
            return bool(params.fast < params.slow)  # type: ignore[attr-defined]

    spec = CATALOGUE["sma_cross"]
    scalar_only = ScalarOnly(spec.name, spec.description, spec.params_model, spec.constraints)
    monkeypatch.setitem(CATALOGUE, "sma_cross", scalar_only)  # type: ignore[index]
    assert expand_grid("sma_cross", grid, 1000) == at_once


AGREEMENT_GRIDS = [
    ("sma_cross", {"fast": "5:50:5", "slow": "20:200:10"}, 1000),
    ("sma_cross", {"fast": "1:30:1", "slow": [5, 10.0, 25, 40]}, 1000),
    ("ema_cross", {"slow": [5, 40]}, 10),
    ("rsi_reversion", {"period": [7, 7, 14], "lower": "10:90:10", "upper": "20:80:20"}, 1000),
    ("macd", {"fast": "2:20:3", "slow": "10:30:5", "signal": [3, 9]}, 1000),
    ("bollinger_reversion", {"k": "0.5:3:0.5", "period": [10, 20]}, 100),
    ("donchian_breakout", {"entry": [10, 20], "exit": "5:15:5"}, 100),
    ("buy_and_hold", {}, 1),
    ("sma_cross", {"fast": "5:50:5", "slow": "20:200:10"}, 100),  # too many
    ("sma_cross", {"fast": [50], "slow": [20]}, 100),  # none feasible
    ("sma_cross", {"fast": [0]}, 100),  # out of bounds
    ("nope", {}, 100),
]


@pytest.mark.parametrize(("strategy", "grid", "limit"), AGREEMENT_GRIDS)
def test_the_engine_and_the_contract_expand_grids_alike(
    strategy: str, grid: dict, limit: int
) -> None:
    def outcome(expand: object) -> object:
        try:
            return expand(strategy, grid, limit)  # type: ignore[operator]
        except GridError as exc:
            return f"GridError: {exc}"

    engine, pure = outcome(expand_grid), outcome(contract.expand_grid)
    assert engine == pure
    if isinstance(pure, list):
        assert [list(map(type, c.values())) for c in engine] == [  # type: ignore[union-attr]
            list(map(type, c.values())) for c in pure
        ]
