"""Candles of a series as engine `Bars`, loaded once per (symbol, interval, range)
and kept in the worker's memory (least recently used series dropped first):
the jobs of one batch share a series, so the database is read once per worker."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime

import asyncpg
import numpy as np

from ticktide_backtest_worker import repository
from ticktide_backtest_worker.engine import Bars

__all__ = ["CandleCache", "SeriesKey"]

SeriesKey = tuple[str, str, datetime, datetime]


class CandleCache:
    """An LRU of loaded series; concurrent loads of one series share one query."""

    def __init__(self, pool: asyncpg.Pool, max_series: int) -> None:
        self.pool = pool
        self.max_series = max(1, max_series)
        self._series: OrderedDict[SeriesKey, Bars] = OrderedDict()
        self._locks: dict[SeriesKey, asyncio.Lock] = {}
        self.loads = 0

    async def bars(self, symbol: str, interval: str, start: datetime, end: datetime) -> Bars:
        key = (symbol, interval, start, end)
        found = self._series.get(key)
        if found is not None:
            self._series.move_to_end(key)
            return found
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            found = self._series.get(key)
            if found is None:
                rows = await repository.load_candles(self.pool, symbol, interval, start, end)
                found = _as_bars(rows)
                self.loads += 1
                self._series[key] = found
                while len(self._series) > self.max_series:
                    self._series.popitem(last=False)
        self._locks.pop(key, None)
        return found


def _as_bars(rows: list[asyncpg.Record]) -> Bars:
    if not rows:
        empty = np.empty(0, dtype=np.float64)
        return Bars(np.empty(0, dtype=np.int64), empty, empty, empty, empty, empty)
    table = np.array([tuple(r) for r in rows], dtype=np.float64)
    return Bars(
        table[:, 0].astype(np.int64),
        table[:, 1],
        table[:, 2],
        table[:, 3],
        table[:, 4],
        table[:, 5],
    )
