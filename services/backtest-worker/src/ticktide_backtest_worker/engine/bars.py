"""The OHLCV series a backtest runs on: parallel float64 arrays indexed by bar."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SECONDS_PER_YEAR = 365 * 86400


@dataclass(frozen=True)
class Bars:
    """One series of bars. `times` are open times in epoch seconds (int64).

    The engine works on bar index only: missing times (gaps) are simply not there.
    Arrays are coerced to contiguous int64 / float64 and must all have one length.
    """

    times: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", np.ascontiguousarray(self.times, dtype=np.int64))
        for name in ("open", "high", "low", "close", "volume"):
            array = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            object.__setattr__(self, name, array)
        lengths = {
            len(getattr(self, f)) for f in ("times", "open", "high", "low", "close", "volume")
        }
        if len(lengths) != 1:
            raise ValueError(f"bar arrays differ in length: {sorted(lengths)}")
        if self.times.ndim != 1:
            raise ValueError("bar arrays must be one-dimensional")

    def __len__(self) -> int:
        return len(self.times)

    def window(self, start: int, stop: int) -> Bars:
        """Bars [start, stop) by index, e.g. one walk-forward train or test window."""
        return Bars(
            self.times[start:stop], self.open[start:stop], self.high[start:stop],
            self.low[start:stop], self.close[start:stop], self.volume[start:stop],
        )  # fmt: skip

    def index_at(self, epoch_seconds: int) -> int:
        """Index of the first bar whose open time is at or after `epoch_seconds`."""
        return int(np.searchsorted(self.times, epoch_seconds, side="left"))


def interval_seconds(interval: str) -> int:
    """Seconds in an interval such as "1h", "4h", "1d" (units m, h, d, w)."""
    unit = interval[-1:]
    count = interval[:-1]
    if unit not in _SECONDS or not count.isdigit() or int(count) <= 0:
        raise ValueError(f"unknown interval {interval!r}; expected e.g. 1h, 4h, 1d")
    return int(count) * _SECONDS[unit]


def bars_per_year(interval: str) -> float:
    """Bars in a 365-day year: 8760 for 1h, 2190 for 4h, 365 for 1d."""
    return SECONDS_PER_YEAR / interval_seconds(interval)
