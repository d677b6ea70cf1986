"""A strategy's look-back: windows and lags summed along each chain, a cross one
bar more, the stops' ATR windows counted, the longest over a grid found."""

from __future__ import annotations

from typing import Any

from ticktide_common.rules import LANGUAGE, check_document
from ticktide_common.rules.lookback import longest_lookback, lookback_bars
from ticktide_common.rules.system import SYSTEM_STRATEGIES


def strategy(entry: str, exit_: str = "close < open", **extra: Any) -> Any:
    return check_document(
        {
            "language": LANGUAGE,
            "params": {
                "w": {"type": "int", "min": 2, "max": 300, "default": 20},
                "k": {"type": "float", "min": 0.5, "max": 3.0, "default": 2.0},
            },
            "entry": entry,
            "exit": exit_,
            **extra,
        }
    )


def test_windows_and_lags_add_up_along_a_chain() -> None:
    checked = strategy("sma(ema(close, 10), w)[3] > close")
    assert lookback_bars(checked, {"w": 20, "k": 1.0}) == 10 + 20 + 3
    assert lookback_bars(checked, {"w": 7, "k": 1.0}) == 10 + 7 + 3


def test_the_longest_branch_counts_and_a_cross_adds_one_bar() -> None:
    checked = strategy("crosses_above(sma(close, 5), sma(close, w)) and close > close[40]")
    assert lookback_bars(checked, {"w": 50, "k": 1.0}) == 51
    assert lookback_bars(checked, {"w": 30, "k": 1.0}) == 40


def test_the_exit_and_the_stops_count_too() -> None:
    checked = strategy("close > open", "close < lowest(low, w)[1]", take_profit="atr_mult(90, k)")
    assert lookback_bars(checked, {"w": 20, "k": 1.0}) == 90
    assert lookback_bars(checked, {"w": 120, "k": 1.0}) == 121


def test_the_longest_over_a_grid_names_its_first_set_and_defaults_fill_gaps() -> None:
    checked = check_document(SYSTEM_STRATEGIES["sma_cross"])
    sets = [{"fast": 5, "slow": 20}, {"fast": 5, "slow": 200}, {"fast": 10, "slow": 200}]
    assert longest_lookback(checked, sets) == (201, {"fast": 5, "slow": 200})
    defaults = {name: spec.default for name, spec in checked.params.items()}
    assert longest_lookback(checked, [{}]) == (1 + max(defaults.values()), {})
