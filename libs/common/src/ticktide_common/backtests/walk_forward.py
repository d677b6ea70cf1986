"""Walk-forward windows as the gateway counts them before a batch is queued: the
engine's windows (train [s, s+train), test [s+train, s+train+test), the last one
possibly shorter, s advancing by `test`) must be exactly this many (a worker test
checks it)."""

from __future__ import annotations

__all__ = ["walk_forward_windows"]


def walk_forward_windows(bars: int, train_bars: int, test_bars: int) -> int:
    """Train/test windows a walk-forward makes of `bars`."""
    return max(0, -(-(bars - train_bars) // test_bars))
