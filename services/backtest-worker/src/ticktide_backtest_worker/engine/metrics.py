"""Performance metrics from the bar loop's running statistics; equity-curve thinning.

All values are JSON-safe: an undefined or infinite figure is None, never NaN/inf.

- total_return = final/initial - 1; cagr over the series' time span (first open to
  last open plus one interval, 365-day years); max_drawdown is a positive fraction
  of the running peak, max_drawdown_duration the longest run of bars below a peak.
- sharpe = mean/stdev(ddof=1) of per-bar equity returns × sqrt(bars per year);
  sortino = mean / sqrt(mean(min(r, 0)²)) × sqrt(bars per year).
- calmar = cagr / max_drawdown; win_rate = winning trades / trades; profit_factor
  = gross profit / gross loss; expectancy = mean P&L per trade (cash);
  exposure = bars held at the close / bars.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import simulate as sim

Metric = float | int | None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _ratio(numerator: float, denominator: float) -> float | None:
    if denominator == 0.0:
        return None
    return _finite(numerator / denominator)


def compute_metrics(
    stats: np.ndarray, *, initial_cash: float, bars: int, span_years: float, bars_per_year: float
) -> dict[str, Metric]:
    """The result's metrics from the STAT_* array filled by simulate()."""
    final = float(stats[sim.STAT_FINAL_EQUITY])
    trades = int(stats[sim.STAT_TRADES])
    returns = int(stats[sim.STAT_RETURNS])
    total = float(stats[sim.STAT_SUM_RETURN])
    total_sq = float(stats[sim.STAT_SUM_RETURN_SQ])
    max_drawdown = float(stats[sim.STAT_MAX_DRAWDOWN])
    gross_profit = float(stats[sim.STAT_GROSS_PROFIT])
    gross_loss = float(stats[sim.STAT_GROSS_LOSS])
    scale = math.sqrt(bars_per_year)

    sharpe: float | None = None
    sortino: float | None = None
    if returns >= 2:
        mean = total / returns
        variance = max((total_sq - total * mean) / (returns - 1), 0.0)
        std = math.sqrt(variance)
        if std > 0.0:
            sharpe = _finite(mean / std * scale)
        downside = math.sqrt(float(stats[sim.STAT_SUM_DOWNSIDE_SQ]) / returns)
        if downside > 0.0:
            sortino = _finite(mean / downside * scale)

    cagr: float | None = None
    if span_years > 0.0 and initial_cash > 0.0:
        growth = final / initial_cash
        if growth <= 0.0:
            cagr = -1.0
        else:
            try:
                cagr = _finite(growth ** (1.0 / span_years) - 1.0)
            except OverflowError:
                cagr = None
    calmar = _ratio(cagr, max_drawdown) if cagr is not None else None

    return {
        "total_return": _finite(final / initial_cash - 1.0) if initial_cash else None,
        "cagr": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_drawdown,
        "max_drawdown_duration": int(stats[sim.STAT_MAX_DRAWDOWN_BARS]),
        "calmar": calmar,
        "win_rate": _ratio(float(stats[sim.STAT_WINS]), trades),
        "profit_factor": _ratio(gross_profit, gross_loss),
        "expectancy": _ratio(gross_profit - gross_loss, trades),
        "trades": trades,
        "exposure": _ratio(float(stats[sim.STAT_BARS_IN_POSITION]), bars) or 0.0,
        "final_equity": _finite(final),
    }


@njit(cache=True)
def _bucket_extremes(equity: np.ndarray, buckets: int) -> np.ndarray:
    """Indices of the first and last point and of each bucket's lowest and highest."""
    n = equity.shape[0]
    chosen = np.empty(2 * buckets + 2, dtype=np.int64)
    chosen[0] = 0
    count = 1
    inner = n - 2
    for b in range(buckets):
        start = 1 + (inner * b) // buckets
        stop = 1 + (inner * (b + 1)) // buckets
        if stop <= start:
            continue
        low = high = start
        for i in range(start + 1, stop):
            if equity[i] < equity[low]:
                low = i
            elif equity[i] > equity[high]:
                high = i
        first, second = (low, high) if low <= high else (high, low)
        chosen[count] = first
        count += 1
        if second != first:
            chosen[count] = second
            count += 1
    chosen[count] = n - 1
    return chosen[: count + 1]


def thin_equity(times: np.ndarray, equity: np.ndarray, max_points: int) -> list[tuple[int, float]]:
    """At most `max_points` (time, equity) points in time order: the first, the last, and
    each bucket's lowest and highest, so drawdowns and peaks survive the thinning."""
    n = len(equity)
    if n <= max_points:
        keep = np.arange(n)
    elif max_points < 4:
        keep = np.array([0, n - 1])[: max(max_points, 1)]
    else:
        keep = _bucket_extremes(equity, (max_points - 2) // 2)
    return list(zip(times[keep].tolist(), equity[keep].tolist(), strict=True))
