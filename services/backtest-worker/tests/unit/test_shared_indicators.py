"""A grid computes each indicator window once, not once per combination."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ticktide_backtest_worker.engine import Bars, expand_grid, indicators, run_grid


@pytest.fixture
def bars() -> Bars:
    rng = np.random.default_rng(2)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 600)))
    return Bars(np.arange(600) * 3600, close, close * 1.01, close * 0.99, close, np.ones(600))


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> Counter[int]:
    calls: Counter[int] = Counter()
    original = getattr(indicators, name)

    def wrapper(x: np.ndarray, window: int) -> np.ndarray:
        calls[window] += 1
        return original(x, window)

    monkeypatch.setattr(indicators, name, wrapper)
    return calls


def test_sma_grid_computes_each_window_once(monkeypatch: pytest.MonkeyPatch, bars: Bars) -> None:
    calls = counting(monkeypatch, "sma")
    combos = expand_grid("sma_cross", {"fast": "5:50:5", "slow": "20:200:10"}, 1000)
    results = run_grid(bars, "sma_cross", combos, fee=0.001, slippage_bps=1,
                       initial_cash=1000, interval="1h", details=False)  # fmt: skip
    assert len(results) == 174
    windows = {c["fast"] for c in combos} | {c["slow"] for c in combos}
    assert calls == Counter(dict.fromkeys(windows, 1))


def test_macd_and_bollinger_grids_share_their_emas_and_bands(
    monkeypatch: pytest.MonkeyPatch, bars: Bars
) -> None:
    ema_calls = counting(monkeypatch, "ema")
    std_calls = counting(monkeypatch, "rolling_std")
    kwargs = dict(fee=0.0, slippage_bps=0.0, initial_cash=1.0, interval="1h", details=False)
    macd = expand_grid("macd", {"fast": [8, 12], "slow": [26, 30], "signal": [5, 9]}, 100)
    run_grid(bars, "macd", macd, **kwargs)
    # EMAs of close: 8, 12, 26, 30 once each; signal EMAs: one per (fast, slow, signal)
    assert sum(ema_calls.values()) == 4 + 8
    run_grid(bars, "bollinger_reversion", expand_grid("bollinger_reversion",
             {"period": [10, 20], "k": [1.0, 1.5, 2.0]}, 100), **kwargs)  # fmt: skip
    assert std_calls == Counter({10: 1, 20: 1})
