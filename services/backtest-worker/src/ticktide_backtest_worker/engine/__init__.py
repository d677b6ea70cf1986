"""The backtest engine: pure (numpy + numba, no I/O). Public surface re-exported here.
It implements the strategies of `ticktide_common.backtests.catalogue`.

Semantics are CONTRACT.md's "Backtest semantics"; strategy rules are documented in
strategies.py, metric definitions in metrics.py.
"""

from .bars import Bars, bars_per_year, interval_seconds
from .grid import GridError, expand_grid, parse_range
from .metrics import Metric
from .runner import BacktestResult, run_grid, warm_up
from .strategies import STRATEGIES, StrategyParams, StrategySpec
from .version import ENGINE_VERSION
from .walkforward import (
    WalkForwardResult,
    WalkForwardWindow,
    best_result,
    rank_key,
    walk_forward,
)

__all__ = [
    "ENGINE_VERSION",
    "STRATEGIES",
    "BacktestResult",
    "Bars",
    "GridError",
    "Metric",
    "StrategyParams",
    "StrategySpec",
    "bars_per_year",
    "expand_grid",
    "interval_seconds",
    "parse_range",
    "run_grid",
    "warm_up",
    "WalkForwardResult",
    "WalkForwardWindow",
    "best_result",
    "rank_key",
    "walk_forward",
]
