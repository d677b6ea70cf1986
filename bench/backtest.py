"""Bench: backtest engine throughput in bar-evaluations per second.

Synthetic 1h bars (a seeded geometric random walk) of 100,000 and 1,000,000 bars;
all cases measured in the same run on the same data:

1. engine, one SMA-crossover backtest (fast 10, slow 30) with details (trade list,
   thinned equity curve) — the time includes its indicators;
2. engine, the 174-combination grid (fast 5..50 step 5 × slow 20..200 step 10,
   fast < slow) without details, as a batch job ranks it — indicators shared;
3. the reference: a plain compiled (numba) single loop per combination that keeps
   its own running SMAs and does the same fills and the same running statistics
   (equity, returns, drawdown, trades) — what a hand-written kernel costs.

Target (issue 4): grid throughput >= 0.7x the compiled single-loop reference.
vectorbt and backtesting.py are measured only when installed (they are not
dependencies of the project); otherwise their rows say so.

    uv run python bench/backtest.py [--bars 100000 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from typing import Any

import numpy as np
from numba import njit

from ticktide_backtest_worker.engine import Bars, expand_grid, run_grid

GRID = {"fast": "5:50:5", "slow": "20:200:10"}
FEE, SLIPPAGE_BPS, CASH = 0.001, 5.0, 10_000.0


def synthetic_bars(n: int, seed: int = 42) -> Bars:
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, n)))
    open_ = np.concatenate([[30_000.0], close[:-1]])
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.003, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.003, n))
    times = 1_500_000_000 + np.arange(n, dtype=np.int64) * 3600
    return Bars(times, open_, high, low, close, rng.uniform(1.0, 100.0, n))


@njit(cache=True)
def reference_sma_cross(
    open_: np.ndarray, close: np.ndarray, fast: int, slow: int, fee: float, slip: float,
    cash: float,
) -> tuple[float, int, float, float, float]:  # fmt: skip
    """One combination in one loop: running sums, crossover, fills, statistics."""
    n = close.shape[0]
    buy_f, sell_f = 1.0 + slip / 1e4, 1.0 - slip / 1e4
    fast_sum = slow_sum = 0.0
    prev_fast = prev_slow = np.nan
    units = 0.0
    holding = False
    order = 0
    trades = 0
    equity = previous = peak = cash
    sum_r = sum_r2 = max_dd = 0.0
    for t in range(n):
        if order == 1:
            units = cash / (open_[t] * buy_f * (1.0 + fee))
            cash = 0.0
            holding = True
        elif order == -1:
            cash = units * open_[t] * sell_f * (1.0 - fee)
            holding = False
            trades += 1
        order = 0
        if holding and t == n - 1:
            cash = units * close[t] * sell_f * (1.0 - fee)
            trades += 1
            holding = False
        equity = units * close[t] if holding else cash
        if t > 0:
            r = equity / previous - 1.0
            sum_r += r
            sum_r2 += r * r
        previous = equity
        if equity > peak:
            peak = equity
        elif 1.0 - equity / peak > max_dd:
            max_dd = 1.0 - equity / peak
        fast_sum += close[t]
        slow_sum += close[t]
        if t >= fast:
            fast_sum -= close[t - fast]
        if t >= slow:
            slow_sum -= close[t - slow]
        f = fast_sum / fast if t >= fast - 1 else np.nan
        s = slow_sum / slow if t >= slow - 1 else np.nan
        if t < n - 1:
            if not holding and prev_fast < prev_slow and f > s:
                order = 1
            elif holding and prev_fast > prev_slow and f < s:
                order = -1
        prev_fast, prev_slow = f, s
    return equity, trades, sum_r, sum_r2, max_dd


def best_of(repeat: int, run: Any) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        value = run()
        best = min(best, time.perf_counter() - started)
    return best, value


def row(case: str, bars: int, combos: int, seconds: float, **extra: Any) -> dict[str, Any]:
    return {
        "case": case,
        "bars": bars,
        "combos": combos,
        "seconds": round(seconds, 4),
        "bar_evals_per_s": f"{bars * combos / seconds:.3e}" if seconds else "",
        **extra,
    }


def bench_size(n: int, repeat: int) -> list[dict[str, Any]]:
    bars = synthetic_bars(n)
    combos = expand_grid("sma_cross", GRID, 1000)
    costs = {"fee": FEE, "slippage_bps": SLIPPAGE_BPS, "initial_cash": CASH, "interval": "1h"}

    one_s, one = best_of(repeat, lambda: run_grid(bars, "sma_cross", [{"fast": 10, "slow": 30}],
                                                  **costs))  # fmt: skip
    grid_s, grid = best_of(repeat, lambda: run_grid(bars, "sma_cross", combos, details=False,
                                                    **costs))  # fmt: skip

    def reference() -> list[tuple[float, int, float, float, float]]:
        return [
            reference_sma_cross(bars.open, bars.close, c["fast"], c["slow"], FEE, SLIPPAGE_BPS,
                                CASH)
            for c in combos
        ]  # fmt: skip

    ref_s, ref = best_of(repeat, reference)
    # The reference and the engine must agree, or the comparison means nothing.
    for result, (final, trades, *_rest) in zip(grid, ref, strict=True):
        assert result.metrics["trades"] == trades, (result.params, trades)
        assert abs(result.metrics["final_equity"] - final) <= 1e-6 * final, result.params
    ratio = ref_s / grid_s
    rows = [
        row("engine: one sma_cross (details)", n, 1, one_s, trades=one[0].metrics["trades"]),
        row(
            "engine: 174-combination grid",
            n,
            len(combos),
            grid_s,
            vs_reference=f"{ratio:.2f}x",
            ok=ratio >= 0.7,
        ),  # fmt: skip
        row("reference: numba single loop", n, len(combos), ref_s),
    ]
    for package, label in (("vectorbt", "vectorbt"), ("backtesting", "backtesting.py")):
        if importlib.util.find_spec(package) is None:
            rows.append({"case": f"{label}: not installed (skipped)", "bars": n})
    return rows


OTHER_GRIDS = {
    "ema_cross": {"fast": "5:50:5", "slow": "20:200:10"},
    "rsi_reversion": {"period": "7:28:7", "lower": "20:40:5", "upper": "60:80:5"},
    "macd": {"fast": "6:18:6", "slow": "20:40:10", "signal": "5:15:5"},
    "bollinger_reversion": {"period": "10:50:10", "k": "1:3:0.5"},
    "donchian_breakout": {"entry": "10:100:10", "exit": "5:50:5"},
}


def bench_other_strategies(n: int, repeat: int) -> list[dict[str, Any]]:
    """Grid throughput of the other strategies (indicators included), for reference."""
    bars = synthetic_bars(n)
    rows = []
    for strategy, grid in OTHER_GRIDS.items():
        combos = expand_grid(strategy, grid, 10_000)
        seconds, _ = best_of(repeat, lambda s=strategy, c=combos: run_grid(
            bars, s, c, details=False, fee=FEE, slippage_bps=SLIPPAGE_BPS, initial_cash=CASH,
            interval="1h"))  # fmt: skip
        rows.append(row(f"engine: {strategy} grid", n, len(combos), seconds))
    return rows


def main(sizes: tuple[int, ...] = (100_000, 1_000_000), repeat: int = 3) -> list[dict[str, Any]]:
    started = time.perf_counter()
    warm = synthetic_bars(500)  # compile (or load cached machine code) outside the timings
    run_grid(warm, "sma_cross", [{"fast": 5, "slow": 20}], fee=FEE, slippage_bps=SLIPPAGE_BPS,
             initial_cash=CASH, interval="1h")  # fmt: skip
    reference_sma_cross(warm.open, warm.close, 5, 20, FEE, SLIPPAGE_BPS, CASH)
    print(f"JIT warm-up (compile or cache load): {time.perf_counter() - started:.2f} s")
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows.extend(bench_size(n, repeat))
    rows.extend(bench_other_strategies(min(sizes), repeat))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import runpy  # the runner's table, for the same look as `make bench`

    table = runpy.run_path(str(__import__("pathlib").Path(__file__).with_name("run.py")))["table"]
    print(table(main(tuple(args.bars), args.repeat)))
