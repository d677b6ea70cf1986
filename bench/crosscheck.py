"""Cross-check of the engine against vectorbt's `Portfolio.from_signals` on the
SMA crossover (issue 4): same trade count, final equity within 1e-6 relative,
on synthetic 1h random walks with fee and slippage.

vectorbt (with its pandas/plotly/numba stack, ~700 MB) is not a project
dependency; run this with it layered on for the one run:

    uv run --with vectorbt python bench/crosscheck.py

Without vectorbt installed the rows say so (`make bench` still runs). The
signals are computed here independently with pandas (crossover of the
contract: fast[t-1] < slow[t-1] and fast[t] > slow[t]) and handed to vectorbt
shifted one bar, executed at the next bar's open; the position still open at
the end is closed at the last close, as the contract says.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ticktide_backtest_worker.engine import Bars, run_grid

CASES = [(seed, fast, slow) for seed in (1, 2, 3) for fast, slow in ((10, 30), (5, 50))]
BARS = 20_000
FEE, SLIPPAGE_BPS, CASH = 0.001, 5.0, 10_000.0


def _walk(seed: int) -> Bars:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, BARS)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0, 0.002, BARS))
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    times = 1_700_000_000 + 3600 * np.arange(BARS, dtype=np.int64)
    return Bars(times=times, open=open_, high=high, low=low, close=close, volume=np.ones(BARS))


def _vectorbt_case(vbt: Any, pd: Any, bars: Bars, fast: int, slow: int) -> tuple[int, float]:
    close = pd.Series(bars.close)
    fast_ma, slow_ma = close.rolling(fast).mean(), close.rolling(slow).mean()
    above, below = fast_ma > slow_ma, fast_ma < slow_ma
    cross_up = (below.shift(1, fill_value=False) & above).to_numpy()
    cross_down = (above.shift(1, fill_value=False) & below).to_numpy()
    entries = np.zeros(BARS, dtype=bool)
    exits = np.zeros(BARS, dtype=bool)
    entries[1:], exits[1:] = cross_up[:-1], cross_down[:-1]  # executed at the next open
    price = bars.open.copy()
    price[-1] = bars.close[-1]  # the last bar: close what is open at its close
    entries[-1] = False
    exits[-1] = True
    portfolio = vbt.Portfolio.from_signals(
        close=close,
        entries=pd.Series(entries),
        exits=pd.Series(exits),
        price=pd.Series(price),
        size=np.inf,
        init_cash=CASH,
        fees=FEE,
        slippage=SLIPPAGE_BPS / 1e4,
        direction="longonly",
        accumulate=False,
        freq="1h",
    )
    return int(portfolio.trades.count()), float(portfolio.final_value())


def main() -> list[dict[str, Any]]:
    try:
        import pandas as pd
        import vectorbt as vbt
    except ImportError:
        return [
            {
                "bench": "crosscheck",
                "case": "vectorbt",
                "ok": None,
                "note": "vectorbt not installed: uv run --with vectorbt python bench/crosscheck.py",
            }
        ]
    rows = []
    for seed, fast, slow in CASES:
        bars = _walk(seed)
        ours = run_grid(
            bars,
            "sma_cross",
            [{"fast": fast, "slow": slow}],
            fee=FEE,
            slippage_bps=SLIPPAGE_BPS,
            initial_cash=CASH,
            interval="1h",
        )[0]
        trades, final = _vectorbt_case(vbt, pd, bars, fast, slow)
        ours_final = float(ours.metrics["final_equity"])
        relative = abs(ours_final - final) / abs(final)
        rows.append(
            {
                "bench": "crosscheck",
                "case": f"seed {seed} sma {fast}/{slow}",
                "bars": BARS,
                "trades_engine": ours.metrics["trades"],
                "trades_vectorbt": trades,
                "final_engine": round(ours_final, 6),
                "final_vectorbt": round(final, 6),
                "relative_diff": f"{relative:.2e}",
                "ok": ours.metrics["trades"] == trades and relative < 1e-6,
            }
        )
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
