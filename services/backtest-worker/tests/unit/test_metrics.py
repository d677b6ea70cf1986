"""Metrics on small hand-computed cases, equity thinning, intervals, JSON safety."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ticktide_backtest_worker.engine import STRATEGIES, Bars, bars_per_year, run_grid
from ticktide_backtest_worker.engine.metrics import thin_equity

HOUR = 3600


def bars_from(open_: list[float], close: list[float]) -> Bars:
    n = len(close)
    high = [max(o, c) for o, c in zip(open_, close, strict=True)]
    low = [min(o, c) for o, c in zip(open_, close, strict=True)]
    return Bars(np.arange(n) * HOUR, open_, high, low, close, np.ones(n))


def one(bars: Bars, strategy: str = "buy_and_hold", params: dict | None = None, **costs: float):
    kwargs = {"fee": 0.0, "slippage_bps": 0.0, **costs}
    return run_grid(bars, strategy, [params or {}], initial_cash=100.0, interval="1h", **kwargs)[0]


def test_buy_and_hold_by_hand_without_costs() -> None:
    # signal at bar 0's close, buy 10 units at bar 1's open (10), closed at the last close (9)
    result = one(bars_from([10, 10, 11, 12], [10, 10, 12, 9]))
    m = result.metrics
    assert [v for _, v in result.equity] == [100.0, 100.0, 120.0, 90.0]
    returns = [0.0, 0.2, -0.25]
    mean = sum(returns) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    assert m["final_equity"] == pytest.approx(90.0, rel=1e-12)
    assert m["total_return"] == pytest.approx(-0.1, rel=1e-12)
    assert m["sharpe"] == pytest.approx(mean / std * math.sqrt(8760), rel=1e-9)
    downside = math.sqrt(0.25**2 / 3)
    assert m["sortino"] == pytest.approx(mean / downside * math.sqrt(8760), rel=1e-9)
    assert m["max_drawdown"] == pytest.approx(0.25, rel=1e-12)
    assert m["max_drawdown_duration"] == 1
    cagr = 0.9 ** (8760 / 4) - 1  # four hourly bars span 4 hours
    assert m["cagr"] == pytest.approx(cagr, rel=1e-9)
    assert m["calmar"] == pytest.approx(cagr / 0.25, rel=1e-9)
    assert m["trades"] == 1
    assert m["win_rate"] == 0.0
    assert m["profit_factor"] == 0.0
    assert m["expectancy"] == pytest.approx(-10.0, rel=1e-12)
    assert m["exposure"] == 0.75
    assert result.trades == [
        {"entry_time": HOUR, "exit_time": 3 * HOUR, "entry_price": 10.0, "exit_price": 9.0,
         "units": 10.0, "pnl": pytest.approx(-10.0), "return": pytest.approx(-0.1)},
    ]  # fmt: skip


def test_fee_and_slippage_by_hand() -> None:
    result = one(bars_from([10, 10, 11, 12], [10, 10, 12, 9]), fee=0.01, slippage_bps=100)
    buy = 10 * 1.01
    units = 100 / (buy * 1.01)
    proceeds = units * 9 * 0.99 * 0.99
    trade = result.trades[0]
    assert trade["entry_price"] == pytest.approx(buy, rel=1e-12)
    assert trade["exit_price"] == pytest.approx(9 * 0.99, rel=1e-12)
    assert trade["units"] == pytest.approx(units, rel=1e-12)
    assert result.metrics["final_equity"] == pytest.approx(proceeds, rel=1e-12)
    assert result.equity[2][1] == pytest.approx(units * 12, rel=1e-12)


def test_winning_trades_only_leave_profit_factor_undefined() -> None:
    m = one(bars_from([10, 10, 11, 12], [10, 11, 12, 13])).metrics
    assert m["win_rate"] == 1.0
    assert m["profit_factor"] is None
    assert m["max_drawdown"] == 0.0 and m["max_drawdown_duration"] == 0
    assert m["calmar"] is None
    assert m["sortino"] is None  # no down bar


def test_sma_cross_round_trip_by_hand() -> None:
    # fast=1 is the close itself; SMA(2) = [-, 10.5, 10.5, 11, 12.5, 13.5, 12, 9.5]:
    # the close crosses above it at bar 3 (10 < 10.5, 12 > 11), below at bar 6
    close = [10, 11, 10, 12, 13, 14, 10, 9]
    open_ = [10, 10, 11, 10, 12, 13, 14, 10]
    result = one(bars_from(open_, close), "sma_cross", {"fast": 1, "slow": 2})
    trade = result.trades[0]
    assert (trade["entry_time"], trade["exit_time"]) == (4 * HOUR, 7 * HOUR)
    assert (trade["entry_price"], trade["exit_price"]) == (12.0, 10.0)
    assert result.metrics["trades"] == 1
    assert result.metrics["exposure"] == pytest.approx(3 / 8)
    assert result.metrics["final_equity"] == pytest.approx(100 * 10 / 12)


def test_single_bar_has_no_trades_and_undefined_ratios() -> None:
    m = one(bars_from([10], [11])).metrics
    assert m["trades"] == 0 and m["final_equity"] == 100.0
    assert m["sharpe"] is None and m["win_rate"] is None and m["expectancy"] is None


def test_bars_per_year_from_interval() -> None:
    assert bars_per_year("1h") == 8760
    assert bars_per_year("4h") == 2190
    assert bars_per_year("1d") == 365
    with pytest.raises(ValueError, match="interval"):
        bars_per_year("1x")


def test_thinned_equity_keeps_ends_and_extremes() -> None:
    rng = np.random.default_rng(5)
    equity = 1000 + np.cumsum(rng.normal(0, 1, 10_000))
    times = np.arange(10_000) * HOUR
    points = thin_equity(times, equity, 100)
    assert len(points) <= 100
    kept = dict(points)
    assert points[0] == (0, equity[0]) and points[-1] == (int(times[-1]), equity[-1])
    assert kept[int(times[np.argmax(equity)])] == equity.max()
    assert kept[int(times[np.argmin(equity)])] == equity.min()
    assert [t for t, _ in points] == sorted(t for t, _ in points)


@pytest.mark.parametrize("n", [1, 2, 50, 500])
def test_every_result_is_json_safe(n: int) -> None:
    rng = np.random.default_rng(n)
    walks = {
        "walk": 100 * np.exp(np.cumsum(rng.normal(0, 0.05, n))),
        "flat": np.full(n, 7.0),
    }
    for close in walks.values():
        bars = Bars(np.arange(n) * HOUR, close, close, close, close, np.ones(n))
        for strategy in STRATEGIES:
            for result in run_grid(
                bars, strategy, [{}], fee=0.001, slippage_bps=2, initial_cash=1e4, interval="4h"
            ):
                payload = {"m": result.metrics, "t": result.trades, "e": result.equity}
                json.dumps(payload, allow_nan=False)


def test_bar_windows_and_time_lookup() -> None:
    bars = bars_from([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    part = bars.window(1, 3)
    assert part.close.tolist() == [2.0, 3.0] and part.times.tolist() == [HOUR, 2 * HOUR]
    assert bars.index_at(2 * HOUR) == 2 and bars.index_at(2 * HOUR + 1) == 3
    assert bars.index_at(10 * HOUR) == 5
    with pytest.raises(ValueError, match="length"):
        Bars([0, 1], [1.0], [1.0], [1.0], [1.0], [1.0])
