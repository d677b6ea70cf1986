"""Walk-forward: choices made on train windows only, test windows equal the reference,
the stitched curve compounds window by window; ranking helpers; equity_stats."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from backtest_reference import backtest

from ticktide_backtest_worker.engine import (
    Bars,
    GridError,
    best_result,
    expand_grid,
    run_grid,
    walk_forward,
)
from ticktide_backtest_worker.engine import simulate as sim
from ticktide_backtest_worker.engine.runner import Costs, simulate_params
from ticktide_backtest_worker.engine.strategies import STRATEGIES, IndicatorCache
from ticktide_common.backtests.walk_forward import walk_forward_windows

COSTS = {"fee": 0.001, "slippage_bps": 3.0}


def walk(seed: int, n: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    open_ = np.concatenate([[50.0], close[:-1]])
    high, low = np.maximum(open_, close) * 1.004, np.minimum(open_, close) * 0.996
    return Bars(np.arange(n) * 3600 + 7200, open_, high, low, close, np.ones(n))


GRID = expand_grid("sma_cross", {"fast": [3, 5, 8], "slow": [10, 20]}, 100)


def run(bars: Bars, rank_by: str = "sharpe"):
    return walk_forward(bars, "sma_cross", GRID, train_bars=200, test_bars=100,
                        rank_by=rank_by, initial_cash=1000.0, interval="1h", **COSTS)  # fmt: skip


def test_each_window_picks_its_train_best_and_trades_like_the_reference() -> None:
    bars = walk(1, 750)
    result = run(bars)
    assert len(result.windows) == 6  # tests start at 200, 300, ..., 700 (the last is 50 bars)
    cash = 1000.0
    all_trades = []
    for k, window in enumerate(result.windows):
        start, test_start = 100 * k, 100 * k + 200
        test_end = min(test_start + 100, 750)
        train = run_grid(bars.window(start, test_start), "sma_cross", GRID, details=False,
                         initial_cash=1000.0, interval="1h", **COSTS)  # fmt: skip
        best = max(train, key=lambda r: -math.inf if r.metrics["sharpe"] is None
                   else r.metrics["sharpe"])  # fmt: skip
        assert window.params == best.params
        assert (window.train_start, window.test_start) == (
            bars.times[start],
            bars.times[test_start],
        )
        seg = bars.window(start, test_end)
        trades, equity = backtest(
            "sma_cross", window.params, seg.times.tolist(), seg.open.tolist(), seg.high.tolist(),
            seg.low.tolist(), seg.close.tolist(), cash=cash, start=200, **COSTS,
        )  # fmt: skip
        assert window.test_metrics["final_equity"] == pytest.approx(equity[-1], rel=1e-9)
        all_trades += trades
        cash = equity[-1]
    assert result.out_of_sample.metrics["final_equity"] == pytest.approx(cash, rel=1e-9)
    assert result.out_of_sample.metrics["trades"] == len(all_trades)
    for mine, theirs in zip(result.out_of_sample.trades, all_trades, strict=True):
        assert mine["entry_time"] == theirs["entry_time"]
        assert mine["pnl"] == pytest.approx(theirs["pnl"], rel=1e-9, abs=1e-9)
    json.dumps([result.out_of_sample.__dict__, result.in_sample.__dict__,
                [w.__dict__ for w in result.windows]], allow_nan=False)  # fmt: skip
    points = result.out_of_sample.equity
    assert points[0][0] == bars.times[200] and points[-1][0] == bars.times[-1]


def test_later_bars_never_change_earlier_choices_or_out_of_sample_equity() -> None:
    base = walk(2, 700)
    other = walk(99, 700)
    cut = 450  # inside the third test window (400..500)
    changed = Bars(base.times, *(
        np.concatenate([getattr(base, f)[: cut + 1], getattr(other, f)[cut + 1 :]])
        for f in ("open", "high", "low", "close", "volume")
    ))  # fmt: skip
    a, b = run(base), run(changed)
    assert [w.params for w in a.windows[:3]] == [w.params for w in b.windows[:3]]
    kept = [p for p in a.out_of_sample.equity if p[0] <= base.times[cut]]
    assert kept == [p for p in b.out_of_sample.equity if p[0] <= base.times[cut]]
    assert a.out_of_sample.equity != b.out_of_sample.equity


def test_in_sample_is_the_best_on_the_whole_range() -> None:
    bars = walk(3, 600)
    result = run(bars, rank_by="total_return")
    full = run_grid(bars, "sma_cross", GRID, initial_cash=1000.0, interval="1h", **COSTS)
    top = max(r.metrics["total_return"] for r in full)
    assert result.in_sample.metrics["total_return"] == top
    assert result.in_sample.trades and result.in_sample.equity


def test_walk_forward_refuses_what_it_cannot_do() -> None:
    bars = walk(4, 300)
    with pytest.raises(GridError, match="rank by 'luck'"):
        run(bars, rank_by="luck")
    with pytest.raises(GridError, match="more than train_bars"):
        run(bars.window(0, 150))


def test_ranking_puts_undefined_last_and_drawdown_lowest_first() -> None:
    from ticktide_backtest_worker.engine import BacktestResult

    results = [
        BacktestResult({"i": 0}, {"sharpe": None, "max_drawdown": 0.3}),
        BacktestResult({"i": 1}, {"sharpe": 0.5, "max_drawdown": 0.1}),
        BacktestResult({"i": 2}, {"sharpe": 1.5, "max_drawdown": 0.2}),
    ]
    assert best_result(results, "sharpe").params == {"i": 2}
    assert best_result(results, "max_drawdown").params == {"i": 1}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_equity_stats_agree_with_the_bar_loop(strategy: str) -> None:
    bars = walk(5, 400)
    spec = STRATEGIES[strategy]
    simulation = simulate_params(
        IndicatorCache(bars), spec, spec.params_model(), Costs(0.001, 2.0, 100.0)
    )
    stats = np.zeros(sim.STAT_COUNT)
    sim.equity_stats(simulation.equity, stats)
    for index in (sim.STAT_FINAL_EQUITY, sim.STAT_SUM_RETURN, sim.STAT_SUM_RETURN_SQ,
                  sim.STAT_SUM_DOWNSIDE_SQ, sim.STAT_RETURNS, sim.STAT_MAX_DRAWDOWN,
                  sim.STAT_MAX_DRAWDOWN_BARS):  # fmt: skip
        assert stats[index] == pytest.approx(simulation.stats[index], rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(
    ("bars", "train", "test"), [(40, 10, 5), (41, 10, 5), (44, 10, 5), (11, 10, 7), (30, 2, 1)]
)
def test_the_window_count_is_the_contracts(bars: int, train: int, test: int) -> None:
    """The gateway bounds a walk-forward's work with the contract's window count."""
    price = np.linspace(100.0, 120.0, bars) + np.sin(np.arange(bars))
    series = Bars(np.arange(bars, dtype=np.int64) * 3600, price, price + 1, price - 1, price,
                  np.ones(bars))  # fmt: skip
    found = walk_forward(
        series, "sma_cross", [{"fast": 2, "slow": 4}], train_bars=train, test_bars=test,
        rank_by="sharpe", fee=0.0, slippage_bps=0.0, initial_cash=1.0, interval="1h",
    )  # fmt: skip
    assert walk_forward_windows(bars, train, test) == len(found.windows)
    assert walk_forward_windows(train, train, test) == 0
