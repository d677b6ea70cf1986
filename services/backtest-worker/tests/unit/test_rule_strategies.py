"""Language strategies in the engine: the seven built-ins written in the
language give the built-in kernels' trades, equity and metrics bit for bit (on
random series with gaps, flat runs and one or two bars, and over grids); one
compiled kernel serves every strategy of a shape; stops fill as documented."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from ticktide_backtest_worker.engine import Bars, run_grid
from ticktide_backtest_worker.engine.rules.kernel import KernelCache
from ticktide_backtest_worker.engine.rules.runner import run_language_grid
from ticktide_common.rules import LANGUAGE, check_document
from ticktide_common.rules.system import SYSTEM_STRATEGIES

COSTS = {"fee": 0.001, "slippage_bps": 3.0, "initial_cash": 1000.0, "interval": "1h"}


def random_bars(n: int, seed: int) -> Bars:
    """A random walk with gaps in time, flat runs and gaps between close and open."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    if n > 20:  # flat runs: the same close for a while
        for start in rng.integers(0, n - 10, size=max(n // 100, 1)):
            close[start : start + int(rng.integers(2, 10))] = close[start]
    open_ = np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.002, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    steps = np.where(rng.uniform(size=n) < 0.02, 3, 1)  # some hours missing
    times = np.cumsum(steps).astype(np.int64) * 3600
    return Bars(times, open_, high, low, close, rng.uniform(1, 100, n))


GRIDS: dict[str, list[dict[str, Any]]] = {
    "buy_and_hold": [{}],
    "sma_cross": [{"fast": f, "slow": s} for f, s in itertools.product((2, 5, 12), (8, 30))],
    "ema_cross": [{"fast": f, "slow": s} for f, s in itertools.product((2, 5, 12), (8, 30))],
    "rsi_reversion": [
        {"period": p, "lower": lo, "upper": up}
        for p, lo, up in itertools.product((2, 14), (20.0, 35.5), (60.0, 80.0))
    ],
    "macd": [{"fast": 12, "slow": 26, "signal": 9}, {"fast": 3, "slow": 10, "signal": 4}],
    "bollinger_reversion": [
        {"period": p, "k": k} for p, k in itertools.product((2, 10, 20), (0.5, 2.0, 2.75))
    ],
    "donchian_breakout": [
        {"entry": e, "exit": x} for e, x in itertools.product((1, 5, 20), (1, 10))
    ],
}


@pytest.mark.parametrize("name", sorted(SYSTEM_STRATEGIES))
@pytest.mark.parametrize(("n", "seed"), [(1, 1), (2, 2), (3, 3), (60, 4), (900, 5), (2500, 6)])
def test_system_strategies_match_the_built_in_kernels_bit_for_bit(
    name: str, n: int, seed: int
) -> None:
    bars = random_bars(n, seed)
    strategy = check_document(SYSTEM_STRATEGIES[name])
    built_in = run_grid(bars, name, GRIDS[name], **COSTS)
    language = run_language_grid(bars, strategy, GRIDS[name], **COSTS)
    assert len(built_in) == len(language) == len(GRIDS[name])
    for ours, theirs in zip(language, built_in, strict=True):
        assert ours.params == theirs.params
        assert ours.trades == theirs.trades
        assert ours.equity == theirs.equity
        assert ours.metrics == theirs.metrics  # floats compared exactly


def test_one_kernel_per_shape() -> None:
    kernels = KernelCache()
    bars = random_bars(300, 9)
    for name in ("sma_cross", "ema_cross"):
        run_language_grid(
            bars, check_document(SYSTEM_STRATEGIES[name]), GRIDS[name], kernels=kernels, **COSTS
        )  # noqa: E501
    assert (kernels.misses, kernels.hits) == (1, 1)


def stop_strategy(stop: str, target: str | None = None) -> Any:
    document: dict[str, Any] = {
        "language": LANGUAGE,
        "params": {},
        "entry": "true",
        "exit": "false",
        "stop_loss": stop,
    }
    if target is not None:
        document["take_profit"] = target
    return check_document(document)


def bars_of(rows: list[tuple[float, float, float, float]]) -> Bars:
    o, h, lo, c = (np.array(column, dtype=np.float64) for column in zip(*rows, strict=True))
    return Bars(np.arange(len(rows), dtype=np.int64) * 3600, o, h, lo, c, np.ones(len(rows)))


def only_trade(strategy: Any, bars: Bars) -> dict[str, Any]:
    (result,) = run_language_grid(
        bars, strategy, [{}], fee=0.0, slippage_bps=0.0, initial_cash=100.0, interval="1h"
    )  # noqa: E501
    return result.trades[0]


def test_a_stop_loss_fills_at_its_level_and_a_gap_at_the_open() -> None:
    touched = bars_of(
        [(100, 101, 99, 100), (100, 101, 99, 100), (100, 100, 94, 96), (96, 97, 95, 96)]
    )  # noqa: E501
    trade = only_trade(stop_strategy("pct(0.05)"), touched)
    assert (trade["entry_price"], trade["exit_price"]) == (100.0, 95.0)
    assert trade["exit_time"] == 2 * 3600
    gapped = bars_of([(100, 101, 99, 100), (100, 101, 99, 100), (90, 92, 89, 91), (91, 92, 90, 91)])
    assert only_trade(stop_strategy("pct(0.05)"), gapped)["exit_price"] == 90.0


def test_when_both_levels_are_touched_in_one_bar_the_stop_loss_wins() -> None:
    both = bars_of(
        [(100, 101, 99, 100), (100, 101, 99, 100), (100, 120, 80, 100), (100, 101, 99, 100)]
    )  # noqa: E501
    trade = only_trade(stop_strategy("pct(0.05)", "pct(0.1)"), both)
    assert trade["exit_price"] == 95.0
    target_only = bars_of(
        [(100, 101, 99, 100), (100, 101, 99, 100), (100, 115, 99, 110), (110, 111, 109, 110)]
    )  # noqa: E501
    assert only_trade(stop_strategy("pct(0.05)", "pct(0.1)"), target_only)[
        "exit_price"
    ] == pytest.approx(110.0)  # noqa: E501
