"""Cross-check of the engine against vectorbt's `Portfolio.from_signals` and
backtesting.py's `FractionalBacktest` on the SMA crossover (issue 4): same trade
count, final equity within 1e-6 relative, on synthetic 1h random walks with a
fee (and slippage, for vectorbt; backtesting.py has none).

Neither package is a project dependency (vectorbt brings ~700 MB of pandas,
plotly and numba); layer them on for the one run:

    uv run --with vectorbt --with backtesting python bench/crosscheck.py

Without them the rows say so (`make bench` still runs). backtesting.py closes
what is open at the end at the last bar's open, the contract at its close: its
data get one extra bar opening at our last close, where no signal is taken. The
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


def _backtesting_py_case(bars: Bars, fast: int, slow: int) -> tuple[int, float]:
    import pandas as pd
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest

    last = len(bars.close)
    extra = {
        "Open": bars.close[-1],
        "High": bars.close[-1],
        "Low": bars.close[-1],
        "Close": bars.close[-1],
        "Volume": 0.0,
    }
    frame = pd.DataFrame(
        {
            "Open": bars.open,
            "High": bars.high,
            "Low": bars.low,
            "Close": bars.close,
            "Volume": bars.volume,
        }
    )
    frame = pd.concat([frame, pd.DataFrame([extra])], ignore_index=True)
    frame.index = pd.date_range("2023-01-01", periods=len(frame), freq="h")

    class SmaCross(Strategy):
        def init(self) -> None:
            close = pd.Series(self.data.Close)
            self.fast = self.I(lambda: close.rolling(fast).mean().to_numpy())
            self.slow = self.I(lambda: close.rolling(slow).mean().to_numpy())

        def next(self) -> None:
            f, s = self.fast, self.slow
            if len(self.data) >= last or np.isnan(s[-2]):  # no signal on the last bar
                return
            if not self.position and f[-2] < s[-2] and f[-1] > s[-1]:
                self.buy(size=1 - 1e-12)  # all in: sizes below 1 are fractions of equity
            elif self.position and f[-2] > s[-2] and f[-1] < s[-1]:
                self.position.close()

    stats = FractionalBacktest(
        frame, SmaCross, cash=CASH, commission=FEE, finalize_trades=True, fractional_unit=1e-10
    ).run()
    return int(stats["# Trades"]), float(stats["Equity Final [$]"])


def _row(peer: str, case: str, ours: Any, trades: int, final: float) -> dict[str, Any]:
    ours_final = float(ours.metrics["final_equity"])
    relative = abs(ours_final - final) / abs(final)
    return {
        "bench": "crosscheck",
        "peer": peer,
        "case": case,
        "bars": BARS,
        "trades_engine": ours.metrics["trades"],
        "trades_peer": trades,
        "final_engine": round(ours_final, 6),
        "final_peer": round(final, 6),
        "relative_diff": f"{relative:.2e}",
        "ok": ours.metrics["trades"] == trades and relative < 1e-6,
    }


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main() -> list[dict[str, Any]]:
    hint = "not installed: uv run --with vectorbt --with backtesting python bench/crosscheck.py"
    rows: list[dict[str, Any]] = [
        {"bench": "crosscheck", "peer": peer, "ok": None, "note": hint}
        for peer, module in (("vectorbt", "vectorbt"), ("backtesting.py", "backtesting"))
        if not _installed(module)
    ]
    for seed, fast, slow in CASES:
        bars = _walk(seed)
        case = f"seed {seed} sma {fast}/{slow}"
        if _installed("vectorbt"):
            import pandas as pd
            import vectorbt as vbt

            ours = run_grid(
                bars,
                "sma_cross",
                [{"fast": fast, "slow": slow}],
                fee=FEE,
                slippage_bps=SLIPPAGE_BPS,
                initial_cash=CASH,
                interval="1h",
            )[0]
            rows.append(_row("vectorbt", case, ours, *_vectorbt_case(vbt, pd, bars, fast, slow)))
        if _installed("backtesting"):
            ours = run_grid(
                bars,
                "sma_cross",
                [{"fast": fast, "slow": slow}],
                fee=FEE,
                slippage_bps=0.0,
                initial_cash=CASH,
                interval="1h",
            )[0]
            rows.append(_row("backtesting.py", case, ours, *_backtesting_py_case(bars, fast, slow)))
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
