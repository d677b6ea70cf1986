"""Every indicator of the language against TA-Lib (the field's standard, a
test-only oracle) within its documented tolerance, against an exact reference
written here independently, and for prefix invariance: f(x[:m]) == f(x)[:m], so
no value can depend on a later bar.

Tolerances: TA-Lib computes the same definitions in another order of floating
point operations (ROC as (x/prev - 1)·100, its STDDEV from running sums of x and
x²), so values agree to a relative 1e-9 (1e-7 for STDDEV; against the exact
two-pass reference the sliding standard deviation is within 1e-10 of the
price level, and exactly 0 over a flat window); where TA-Lib has no
such function (RMA) the exact reference alone is the oracle. EMA is seeded with
the SMA of its first window and RSI/ATR use Wilder's smoothing seeded with plain
means, as TA-Lib's defaults do (no "unstable period").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import talib

from ticktide_backtest_worker.engine import Bars
from ticktide_backtest_worker.engine import indicators as ind


def walk(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    x[n // 3 : n // 3 + 7] = x[n // 3]  # a flat run
    return x


def reference_rma(x: np.ndarray, w: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    if len(x) < w:
        return out
    value = sum(x[:w].tolist()) / w
    out[w - 1] = value
    for t in range(w, len(x)):
        value = value + (x[t] - value) / w
        out[t] = value
    return out


def reference_std(x: np.ndarray, w: int) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for t in range(w - 1, len(x)):
        window = x[t - w + 1 : t + 1]
        out[t] = float(np.sqrt(np.mean((window - window.mean()) ** 2)))
    return out


def reference_extreme(x: np.ndarray, w: int, pick: Callable[[np.ndarray], float]) -> np.ndarray:
    out = np.full(len(x), np.nan)
    for t in range(w - 1, len(x)):
        out[t] = pick(x[t - w + 1 : t + 1])
    return out


WINDOWS = (1, 2, 5, 14, 50)


@pytest.mark.parametrize("w", WINDOWS)
def test_against_talib(w: int) -> None:
    x = walk(600, w)
    checks: list[tuple[str, np.ndarray, np.ndarray, float]] = [
        ("sma", ind.sma(x, w), talib.SMA(x, w) if w > 1 else x, 1e-9),
        ("highest", ind.highest(x, w), talib.MAX(x, w) if w > 1 else x, 0.0),
        ("lowest", ind.lowest(x, w), talib.MIN(x, w) if w > 1 else x, 0.0),
        ("change", ind.change(x, w), talib.MOM(x, w), 1e-9),
        ("roc", ind.roc(x, w), talib.ROC(x, w), 1e-9),
    ]
    if w > 1:
        checks += [
            ("ema", ind.ema(x, w), talib.EMA(x, w), 1e-9),
            ("rsi", ind.rsi(x, w), talib.RSI(x, w), 1e-9),
            ("stdev", ind.rolling_std(x, w), talib.STDDEV(x, w, 1.0), 1e-7),
        ]
    high, low = x * 1.01, x * 0.99
    checks.append(("atr", ind.atr(high, low, x, w), talib.ATR(high, low, x, w), 1e-9))
    for name, ours, theirs, tolerance in checks:
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), f"{name}({w}): warm-up differs"
        np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=0, err_msg=f"{name}({w})")


@pytest.mark.parametrize("w", WINDOWS)
def test_against_exact_references(w: int) -> None:
    x = walk(400, 100 + w)
    np.testing.assert_allclose(ind.rma(x, w), reference_rma(x, w), rtol=1e-12)
    # A sliding standard deviation loses digits to cancellation when the spread is
    # tiny beside the level: its documented tolerance is 1e-10 of the level.
    level = float(np.max(np.abs(x)))
    np.testing.assert_allclose(
        ind.rolling_std(x, w), reference_std(x, w), rtol=1e-9, atol=1e-10 * level
    )
    flat = np.full(50, 123.456)
    assert np.all(ind.rolling_std(np.r_[x[:30], flat], w)[30 + w - 1 :] == 0.0)
    np.testing.assert_array_equal(ind.highest(x, w), reference_extreme(x, w, np.max))
    np.testing.assert_array_equal(ind.lowest(x, w), reference_extreme(x, w, np.min))


def test_rolling_std_stays_exact_over_a_long_series_with_a_long_window() -> None:
    rng = np.random.default_rng(5)
    x = 1e6 + np.cumsum(rng.normal(0, 1, 200_000))  # large level, small moves: cancellation
    w = 5_000
    ours = ind.rolling_std(x, w)
    for t in (w - 1, 50_123, 123_456, len(x) - 1):
        window = x[t - w + 1 : t + 1]
        assert ours[t] == pytest.approx(float(np.std(window)), rel=1e-9)


def indicator_outputs(x: np.ndarray, w: int) -> dict[str, np.ndarray]:
    bars = Bars(np.arange(len(x), dtype=np.int64), x, x * 1.01, x * 0.99, x, np.ones(len(x)))
    return {
        "sma": ind.sma(x, w), "ema": ind.ema(x, w), "rma": ind.rma(x, w),
        "rsi": ind.rsi(x, w), "stdev": ind.rolling_std(x, w), "highest": ind.highest(x, w),
        "lowest": ind.lowest(x, w), "roc": ind.roc(x, w), "change": ind.change(x, w),
        "atr": ind.atr(bars.high, bars.low, bars.close, w),
    }  # fmt: skip


@pytest.mark.parametrize("w", (1, 3, 20, 75))
def test_prefix_invariance(w: int) -> None:
    x = walk(500, 7 * w)
    full = indicator_outputs(x, w)
    for m in (1, 2, w, w + 1, 137, 499):
        prefix = indicator_outputs(x[:m].copy(), w)
        for name, values in prefix.items():
            np.testing.assert_array_equal(values, full[name][:m], err_msg=f"{name}({w}) at {m}")
