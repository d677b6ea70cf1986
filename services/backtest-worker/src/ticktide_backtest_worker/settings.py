"""The backtest worker's settings: PostgreSQL, Redis (the batches' event streams),
the bus, the backtest limits it enforces, the fault-injection setting, and its
own: port, prefetch and the candle cache."""

from __future__ import annotations

from functools import lru_cache

from ticktide_common.faults import CommitFaultSettings
from ticktide_common.settings import (
    BacktestLimitsSettings,
    BusSettings,
    DatabaseSettings,
    RedisSettings,
)

__all__ = ["WorkerSettings", "get_settings"]


class WorkerSettings(
    DatabaseSettings, RedisSettings, BusSettings, BacktestLimitsSettings, CommitFaultSettings
):
    """What a backtest worker reads."""

    backtest_worker_port: int = 8110  # `make up` gives worker i this + i
    backtest_prefetch: int = 2
    backtest_candle_cache_series: int = 16  # series kept in each worker's memory


@lru_cache(maxsize=1)
def get_settings() -> WorkerSettings:
    """The process-wide settings, read once."""
    return WorkerSettings()
