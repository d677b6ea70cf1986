"""Bench: a strategy written in the rule language beside its built-in twin.

The language's `sma_cross` (ticktide_common.rules.system) and the built-in
kernel on the same synthetic 1h bars (bench/backtest.py's seeded random walk),
100,000 and 1,000,000 bars over the 174-combination grid (fast 5..50 step 5 ×
slow 20..200 step 10, fast < slow), and 100,000 bars (1,000,000 with
`--big-bars`: minutes per engine) over a 10,000-combination grid (fast 1..100 ×
slow 101..200), without details, as a batch job ranks them; both give the same
metrics, bit for bit (checked here, or the figures would mean nothing).

Printed: each one's seconds and bar-evaluations per second, the language's time
over the built-in's (target <= 1.2x), the first compile of a new rule shape (a
fresh process: parse, check, generate and compile the kernel, run once on 1,000
bars; the bar loop itself comes from numba's disk cache; target <= 2 s), and
the compiled-kernel cache's hit rate across a grid split into jobs of 50
parameter sets as the gateway splits it.

    uv run python bench/backtest_rules.py [--bars 100000 1000000] [--repeat 3]
        [--big-repeat 1] [--big-bars 100000 [1000000]]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from backtest import best_of, row, synthetic_bars  # noqa: E402

from ticktide_backtest_worker.engine import expand_grid, run_grid  # noqa: E402
from ticktide_backtest_worker.engine.rules.kernel import KernelCache  # noqa: E402
from ticktide_backtest_worker.engine.rules.runner import (  # noqa: E402
    run_language_grid,
    warm_up_language,
)
from ticktide_common.rules import check_document  # noqa: E402
from ticktide_common.rules.system import SYSTEM_STRATEGIES  # noqa: E402

GRIDS = {
    "174": {"fast": "5:50:5", "slow": "20:200:10"},
    "10000": {"fast": "1:100:1", "slow": "101:200:1"},
}
COSTS = {"fee": 0.001, "slippage_bps": 5.0, "initial_cash": 10_000.0, "interval": "1h"}
JOB_SETS = 50  # parameter sets per job (BACKTEST_JOB_COMBINATIONS' default)
TARGET_RATIO = 1.2
TARGET_COMPILE_S = 2.0

# A new shape in a fresh process: nothing of it compiled yet (numba's disk cache of
# the engine's own functions is warm, as on a worker that has run before).
_FIRST_COMPILE = """
import time
import numpy as np
from ticktide_backtest_worker.engine import Bars
from ticktide_backtest_worker.engine.rules.runner import run_language_grid, warm_up_language
from ticktide_common.rules import check_document
warm_up_language()
n = 1000
close = 100 + np.cumsum(np.random.default_rng(1).normal(0, 1, n))
bars = Bars(np.arange(n, dtype=np.int64) * 3600, close, close + 1, close - 1, close, np.ones(n))
document = {"language": "ticktide-rules/1",
            "params": {"w": {"type": "int", "min": 2, "max": 50, "default": 20}},
            "entry": "close > highest(high, w)[1] and rsi(close, 14) < 70 + %d",
            "exit": "crosses_below(ema(close, w), sma(close, w)) or close < lowest(low, w)[2]"}
started = time.perf_counter()
run_language_grid(bars, check_document(document), [{}], fee=0.001, slippage_bps=1.0,
                  initial_cash=1.0, interval="1h")
print(time.perf_counter() - started)
"""


def first_compile_seconds() -> float:
    out = subprocess.run(
        [sys.executable, "-c", _FIRST_COMPILE % os.getpid()],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def bench_grid(n: int, grid_name: str, repeat: int) -> list[dict[str, Any]]:
    bars = synthetic_bars(n)
    combos = expand_grid("sma_cross", GRIDS[grid_name], 20_000)
    strategy = check_document(SYSTEM_STRATEGIES["sma_cross"])
    built_s, built = best_of(
        repeat, lambda: run_grid(bars, "sma_cross", combos, details=False, **COSTS)
    )  # noqa: E501
    kernels = KernelCache()

    def language() -> list[Any]:
        found = []
        for start in range(0, len(combos), JOB_SETS):  # one call per job, as workers run it
            found += run_language_grid(bars, strategy, combos[start : start + JOB_SETS],
                                       details=False, kernels=kernels, **COSTS)  # fmt: skip
        return found

    language_s, ours = best_of(repeat, language)
    for mine, theirs in zip(ours, built, strict=True):
        assert mine.metrics == theirs.metrics, mine.params
    ratio = language_s / built_s
    calls = kernels.hits + kernels.misses
    return [
        row(f"built-in sma_cross, {grid_name} grid", n, len(combos), built_s),
        row(
            f"language sma_cross, {grid_name} grid",
            n,
            len(combos),
            language_s,
            vs_built_in=f"{ratio:.2f}x",
            kernel_hit_rate=f"{kernels.hits}/{calls}",
            ok=ratio <= TARGET_RATIO,
        ),  # fmt: skip
    ]


def main(
    sizes: tuple[int, ...] = (100_000, 1_000_000),
    repeat: int = 3,
    big_repeat: int = 1,
    big_sizes: tuple[int, ...] = (100_000,),
) -> list[dict[str, Any]]:
    load = os.getloadavg()[0]
    warm = synthetic_bars(500)
    run_grid(warm, "sma_cross", [{"fast": 5, "slow": 20}], **COSTS)
    warm_up_language()
    compile_s = first_compile_seconds()
    rows = [
        {"case": "first compile of a new rule shape (fresh process)",
         "seconds": round(compile_s, 3), "target": f"<= {TARGET_COMPILE_S} s",
         "ok": compile_s <= TARGET_COMPILE_S},
    ]  # fmt: skip
    for n in sizes:
        rows += bench_grid(n, "174", repeat)
    for n in big_sizes:  # 10,000 × 1,000,000 is 10^10 bar-evaluations: minutes per engine
        rows += bench_grid(n, "10000", big_repeat)
    for one in rows:
        one["load_before"] = round(load, 2)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3, help="best of, for the 174 grids")
    parser.add_argument("--big-repeat", type=int, default=1, help="best of, 10,000 grids")
    parser.add_argument(
        "--big-bars", type=int, nargs="+", default=[100_000], help="bars of the 10,000 grids"
    )
    arguments = parser.parse_args()
    found_rows = main(
        tuple(arguments.bars), arguments.repeat, arguments.big_repeat, tuple(arguments.big_bars)
    )
    for found in found_rows:
        print(found)
