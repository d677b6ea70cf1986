"""The engine against the plain reference backtester, and the look-ahead test.

For every strategy, on random walks, gapped times, flat prices, one and two bars, the
engine's trades and per-bar equity equal the reference's to 1e-9 relative.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from backtest_reference import backtest

from ticktide_backtest_worker.engine import STRATEGIES, Bars, run_grid

PARAMS: dict[str, list[dict]] = {
    "buy_and_hold": [{}],
    "sma_cross": [{"fast": 3, "slow": 10}, {"fast": 5, "slow": 20}],
    "ema_cross": [{"fast": 3, "slow": 10}, {"fast": 5, "slow": 20}],
    "rsi_reversion": [
        {"period": 5, "lower": 35.0, "upper": 60.0},
        {"period": 14, "lower": 30.0, "upper": 70.0},
    ],
    "macd": [{"fast": 3, "slow": 10, "signal": 4}, {"fast": 12, "slow": 26, "signal": 9}],
    "bollinger_reversion": [{"period": 10, "k": 1.0}, {"period": 20, "k": 2.0}],
    "donchian_breakout": [
        {"entry": 5, "exit": 3},
        {"entry": 20, "exit": 10},
        {"entry": 1, "exit": 2},
    ],
}
COSTS = {"fee": 0.001, "slippage_bps": 5.0}
CASH = 10_000.0


def random_walk(seed: int, n: int, *, gaps: bool = False) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0.0, 0.003, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, n))
    times = np.arange(n, dtype=np.int64) * 3600 + 1_700_000_400
    if gaps:  # hours missing here and there: the engine works on bar index
        times = np.cumsum(rng.choice([3600, 3600, 3600, 7200, 36000], n)) + 1_700_000_000
    return Bars(times, open_, high, low, close, rng.uniform(1.0, 5.0, n))


def flat(n: int) -> Bars:
    price = np.full(n, 100.0)
    return Bars(np.arange(n) * 3600, price, price, price, price, np.ones(n))


DATASETS = {
    **{f"walk{seed}": (lambda seed=seed: random_walk(seed, 400)) for seed in range(4)},
    "gaps": lambda: random_walk(7, 300, gaps=True),
    "flat": lambda: flat(120),
    "one_bar": lambda: random_walk(3, 1),
    "two_bars": lambda: random_walk(4, 2),
}


def reference(strategy: str, params: dict, bars: Bars, **costs: float):
    return backtest(
        strategy, params, [int(t) for t in bars.times], *(
            [float(v) for v in a] for a in (bars.open, bars.high, bars.low, bars.close)
        ), fee=costs["fee"], slippage_bps=costs["slippage_bps"], cash=CASH,
    )  # fmt: skip


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * CASH)


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_engine_equals_reference(strategy: str, dataset: str) -> None:
    bars = DATASETS[dataset]()
    results = run_grid(
        bars, strategy, PARAMS[strategy], initial_cash=CASH, interval="1h",
        max_equity_points=len(bars) + 10, **COSTS,
    )  # fmt: skip
    for params, result in zip(PARAMS[strategy], results, strict=True):
        trades, equity = reference(strategy, params, bars, **COSTS)
        assert [t for t, _ in result.equity] == [int(t) for t in bars.times]
        engine_equity = [v for _, v in result.equity]
        assert all(close(a, b) for a, b in zip(engine_equity, equity, strict=True)), params
        assert len(result.trades) == len(trades), params
        assert result.metrics["trades"] == len(trades)
        for mine, theirs in zip(result.trades, trades, strict=True):
            assert mine["entry_time"] == theirs["entry_time"]
            assert mine["exit_time"] == theirs["exit_time"]
            for key in ("entry_price", "exit_price", "units", "pnl", "return"):
                assert math.isclose(mine[key], theirs[key], rel_tol=1e-9, abs_tol=1e-9), key
        expected_final = equity[-1]
        assert close(result.metrics["final_equity"], expected_final)


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "buy_and_hold"])
def test_random_walks_produce_trades_for_every_strategy(strategy: str) -> None:
    """Guards the equality test against passing vacuously on trade-free data."""
    counts = [
        r.metrics["trades"]
        for seed in range(4)
        for r in run_grid(random_walk(seed, 400), strategy, PARAMS[strategy], initial_cash=CASH,
                          interval="1h", details=False, **COSTS)
    ]  # fmt: skip
    assert sum(counts) >= 8


def test_flat_prices_trade_only_buy_and_hold() -> None:
    for strategy, param_sets in PARAMS.items():
        for result in run_grid(flat(120), strategy, param_sets, initial_cash=CASH,
                               interval="1h", **COSTS):  # fmt: skip
            assert result.metrics["trades"] == (1 if strategy == "buy_and_hold" else 0)


def _entries_and_exits(result, upto_time: int) -> tuple[list[int], list[int]]:
    entries = [t["entry_time"] for t in result.trades if t["entry_time"] <= upto_time]
    exits = [t["exit_time"] for t in result.trades if t["exit_time"] <= upto_time]
    return entries, exits


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_changing_later_bars_never_changes_the_past(strategy: str) -> None:
    n = 300
    base = random_walk(11, n)
    for cut in (40, 150, 260):
        other = random_walk(1000 + cut, n)
        changed = Bars(base.times, *(
            np.concatenate([getattr(base, f)[: cut + 1], getattr(other, f)[cut + 1 :]])
            for f in ("open", "high", "low", "close", "volume")
        ))  # fmt: skip
        kwargs = dict(initial_cash=CASH, interval="1h", max_equity_points=n, **COSTS)
        before = run_grid(base, strategy, PARAMS[strategy], **kwargs)
        after = run_grid(changed, strategy, PARAMS[strategy], **kwargs)
        for a, b in zip(before, after, strict=True):
            # Equity to bar `cut` is identical, bit for bit.
            assert a.equity[: cut + 1] == b.equity[: cut + 1]
            # Signals up to `cut` show as fills up to bar cut+1: the same ones, at the same bars.
            limit = int(base.times[cut + 1])
            assert _entries_and_exits(a, limit) == _entries_and_exits(b, limit)
            done_before = [t for t in a.trades if t["exit_time"] <= int(base.times[cut])]
            assert done_before == [t for t in b.trades if t["exit_time"] <= int(base.times[cut])]
        assert not all(a.equity == b.equity for a, b in zip(before, after, strict=True))
