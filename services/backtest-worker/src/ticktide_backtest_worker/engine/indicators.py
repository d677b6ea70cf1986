"""Indicators on float64 arrays, compiled; NaN where a value is not yet defined.

Definitions (the test reference implements the same ones independently):

- sma(x, w)[t] = mean of x[t-w+1 .. t], defined from t = w-1.
- ema(x, w): alpha = 2/(w+1), seeded at the first index where w valid values
  exist with their mean, then ema[t] = ema[t-1] + alpha*(x[t] - ema[t-1]).
  Leading NaNs in x are skipped (used for the MACD signal line).
- rsi(close, p) (Wilder): deltas d[t] = close[t]-close[t-1]; average gain/loss
  seeded at t = p with the mean of d[1..p], then avg = (avg*(p-1) + value)/p;
  rsi = 100 - 100/(1 + gain/loss); loss 0 → 100 (gain > 0) or 50 (flat).
- rolling_std(x, w): population standard deviation of x[t-w+1 .. t].
- highest_before(x, w)[t] = max of x[t-w .. t-1] (the w bars before t);
  lowest_before likewise with min. Defined from t = w.
- rma(x, w) (Wilder's smoothing): seeded at t = w-1 with the mean of the first
  w values, then rma[t] = rma[t-1] + (x[t] - rma[t-1]) / w.
- highest(x, w)[t] = max of x[t-w+1 .. t], lowest likewise (defined from t = w-1).
- change(x, w)[t] = x[t] - x[t-w]; roc(x, w)[t] = 100 (x[t] - x[t-w]) / x[t-w].
- true_range[t] = max(high-low, |high-close[t-1]|, |low-close[t-1]|) from t = 1;
  atr(w) seeded at t = w with the mean of true_range[1..w], then Wilder's
  smoothing (TA-Lib's definition).

rolling_std keeps a sliding mean and sum of squared deviations (O(n) whatever the
window; the sum compensated, Kahan's way) and recomputes both exactly every
`window` bars, so rounding cannot accumulate over a long series; a window of equal
values is exactly 0 (the sums restart from it); every value depends on x[..t] only (the restart
points are fixed by t), so each indicator is causal: f(x[:m]) == f(x)[:m].

The language's indicators (`series_indicator`) skip a source's leading NaNs (a
series made of indicators starts where they do), as ema does.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def sma(x: np.ndarray, window: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    total = 0.0
    for t in range(n):
        total += x[t]
        if t >= window:
            total -= x[t - window]
        if t >= window - 1:
            out[t] = total / window
    return out


@njit(cache=True)
def ema(x: np.ndarray, window: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    alpha = 2.0 / (window + 1.0)
    start = 0
    while start < n and np.isnan(x[start]):
        start += 1
    seed_at = start + window - 1
    if seed_at >= n:
        return out
    total = 0.0
    for t in range(start, seed_at + 1):
        total += x[t]
    value = total / window
    out[seed_at] = value
    for t in range(seed_at + 1, n):
        value = value + alpha * (x[t] - value)
        out[t] = value
    return out


@njit(cache=True)
def rsi(close: np.ndarray, period: int) -> np.ndarray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    gain = 0.0
    loss = 0.0
    for t in range(1, period + 1):
        delta = close[t] - close[t - 1]
        if delta > 0.0:
            gain += delta
        else:
            loss -= delta
    gain /= period
    loss /= period
    for t in range(period, n):
        if t > period:
            delta = close[t] - close[t - 1]
            up = delta if delta > 0.0 else 0.0
            down = -delta if delta < 0.0 else 0.0
            gain = (gain * (period - 1) + up) / period
            loss = (loss * (period - 1) + down) / period
        if loss == 0.0:
            out[t] = 100.0 if gain > 0.0 else 50.0
        else:
            out[t] = 100.0 - 100.0 / (1.0 + gain / loss)
    return out


@njit(cache=True)
def _window_moments(x: np.ndarray, end: int, window: int) -> tuple[float, float]:
    """Mean and sum of squared deviations of x[end-window+1 .. end], two passes."""
    total = 0.0
    for i in range(end - window + 1, end + 1):
        total += x[i]
    mean = total / window
    squares = 0.0
    for i in range(end - window + 1, end + 1):
        squares += (x[i] - mean) * (x[i] - mean)
    return mean, squares


@njit(cache=True)
def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window > n:
        return out
    mean, squares = _window_moments(x, window - 1, window)
    compensation = 0.0  # Kahan: the low-order part the running sum of squares lost
    run = 1  # how many values up to t are equal to x[t]
    for t in range(1, window):
        run = run + 1 if x[t] == x[t - 1] else 1
    out[window - 1] = np.sqrt(max(squares, 0.0) / window)
    for t in range(window, n):
        run = run + 1 if x[t] == x[t - 1] else 1
        if run >= window:  # a flat window: exactly 0, and the sums restart exact
            mean, squares, compensation = x[t], 0.0, 0.0
        elif (t - window + 1) % window == 0:
            mean, squares = _window_moments(x, t, window)
            compensation = 0.0
        else:
            old = x[t - window]
            new = x[t]
            new_mean = mean + (new - old) / window
            step = (new - old) * (new - new_mean + old - mean) - compensation
            total = squares + step
            compensation = (total - squares) - step
            squares = total
            mean = new_mean
        out[t] = np.sqrt(max(squares, 0.0) / window)
    return out


@njit(cache=True)
def rma(x: np.ndarray, window: int) -> np.ndarray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    if window > n:
        return out
    total = 0.0
    for t in range(window):
        total += x[t]
    value = total / window
    out[window - 1] = value
    for t in range(window, n):
        value = value + (x[t] - value) / window
        out[t] = value
    return out


@njit(cache=True)
def _extreme_through(x: np.ndarray, window: int, sign: float) -> np.ndarray:
    """max (sign=1) or min (sign=-1) of x[t-window+1 .. t]: the `window` values
    before t+1, so _extreme_before shifted one bar (and the last bar's own)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    before = _extreme_before(x, window, sign)
    out[:-1] = before[1:]
    if n >= window:
        last = x[n - window :]
        out[n - 1] = np.max(last) if sign > 0 else np.min(last)
    return out


@njit(cache=True)
def highest(x: np.ndarray, window: int) -> np.ndarray:
    return _extreme_through(x, window, 1.0)


@njit(cache=True)
def lowest(x: np.ndarray, window: int) -> np.ndarray:
    return _extreme_through(x, window, -1.0)


@njit(cache=True)
def change(x: np.ndarray, window: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    for t in range(window, x.shape[0]):
        out[t] = x[t] - x[t - window]
    return out


@njit(cache=True, error_model="numpy")
def roc(x: np.ndarray, window: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    for t in range(window, x.shape[0]):
        out[t] = 100.0 * (x[t] - x[t - window]) / x[t - window]
    return out


@njit(cache=True, error_model="numpy")
def atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int) -> np.ndarray:
    n = close.shape[0]
    out = np.full(n, np.nan)
    if window >= n:
        return out
    total = 0.0
    for t in range(1, window + 1):
        total += max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1]))
    value = total / window
    out[window] = value
    for t in range(window + 1, n):
        true_range = max(high[t] - low[t], abs(high[t] - close[t - 1]), abs(low[t] - close[t - 1]))
        value = (value * (window - 1) + true_range) / window
        out[t] = value
    return out


@njit(cache=True)
def _extreme_before(x: np.ndarray, window: int, sign: float) -> np.ndarray:
    """max (sign=1) or min (sign=-1) of the `window` values before each t, in O(n)
    with a monotonic queue of candidate indices."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    queue = np.empty(n, dtype=np.int64)
    head = 0
    tail = 0
    for t in range(n):
        if t >= window:
            while queue[head] < t - window:
                head += 1
            out[t] = x[queue[head]]
        while tail > head and sign * x[queue[tail - 1]] <= sign * x[t]:
            tail -= 1
        queue[tail] = t
        tail += 1
    return out


@njit(cache=True)
def highest_before(x: np.ndarray, window: int) -> np.ndarray:
    return _extreme_before(x, window, 1.0)


@njit(cache=True)
def lowest_before(x: np.ndarray, window: int) -> np.ndarray:
    return _extreme_before(x, window, -1.0)
