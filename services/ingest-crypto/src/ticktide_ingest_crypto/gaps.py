"""Interval arithmetic and the representation of gaps in a candle series (pure).

Every open time of a series is a whole multiple of its interval's step since the
Unix epoch (Binance aligns 1h, 4h and 1d bars to UTC midnight, which is such a
multiple). Ranges are `[start, end)`: start inclusive, end exclusive.

`refill_window` is what one gap-refill job fetches of an open gap: never before
the source's history start, from where earlier refills of it stopped, and at
most `max_backfill_candles` bars (the rest waits for the next attempt).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "INTERVAL_MS",
    "Gap",
    "RefillWindow",
    "align_down",
    "align_up",
    "datetime_to_ms",
    "find_gaps",
    "incremental_range",
    "interval_ms",
    "is_aligned",
    "ms_to_datetime",
    "refill_window",
    "slot_count",
    "slot_times",
    "step",
]

INTERVAL_MS: dict[str, int] = {"1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}


def interval_ms(interval: str) -> int:
    """The length of one bar of `interval` in milliseconds; ValueError if unknown."""
    try:
        return INTERVAL_MS[interval]
    except KeyError:
        raise ValueError(
            f"unsupported interval {interval!r}; use one of {sorted(INTERVAL_MS)}"
        ) from None


def step(interval: str) -> timedelta:
    return timedelta(milliseconds=interval_ms(interval))


def datetime_to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("timestamps must carry a UTC offset")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def ms_to_datetime(milliseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


def align_down(moment_ms: int, interval: str) -> int:
    """Open time of the bar that contains `moment_ms`."""
    size = interval_ms(interval)
    return moment_ms - moment_ms % size


def align_up(moment_ms: int, interval: str) -> int:
    """The first bar open time at or after `moment_ms`."""
    size = interval_ms(interval)
    return -(-moment_ms // size) * size


def is_aligned(moment_ms: int, interval: str) -> bool:
    return moment_ms % interval_ms(interval) == 0


def slot_count(start_ms: int, end_ms: int, interval: str) -> int:
    """How many bar open times lie in `[start_ms, end_ms)`."""
    first = align_up(start_ms, interval)
    if end_ms <= first:
        return 0
    return (end_ms - first - 1) // interval_ms(interval) + 1


def slot_times(start_ms: int, end_ms: int, interval: str) -> range:
    """Every bar open time in `[start_ms, end_ms)`, in milliseconds."""
    return range(align_up(start_ms, interval), end_ms, interval_ms(interval))


@dataclass(frozen=True, order=True)
class Gap:
    """Missing bars `[start, end)` of one series; `candles` is how many."""

    start: datetime
    end: datetime
    candles: int

    @classmethod
    def between(cls, start: datetime, end: datetime, interval: str) -> Gap:
        count = slot_count(datetime_to_ms(start), datetime_to_ms(end), interval)
        return cls(start=start, end=end, candles=count)

    def overlaps(self, other: Gap) -> bool:
        return self.start < other.end and other.start < self.end

    def as_json(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "candles": self.candles,
        }


def find_gaps(open_times_ms: Iterable[int], interval: str) -> list[Gap]:
    """Holes between the first and last of the given open times (the same rule as
    the SQL in `repository.py`, for callers that hold candles in memory)."""
    size = interval_ms(interval)
    gaps: list[Gap] = []
    previous: int | None = None
    for current in sorted(set(open_times_ms)):
        if previous is not None and current - previous > size:
            start = previous + size
            gaps.append(Gap.between(ms_to_datetime(start), ms_to_datetime(current), interval))
        previous = current
    return gaps


def incremental_range(
    last_open_ms: int | None, now_ms: int, interval: str, history_days: int
) -> tuple[int, int]:
    """The range a scheduled refresh fetches: from the newest stored bar (inclusive,
    so the still-open bar is fetched again as it closes) or, for an empty series,
    from `history_days` ago, up to and including the bar open at `now_ms`."""
    end = align_down(now_ms, interval) + interval_ms(interval)
    if last_open_ms is None:
        return align_down(now_ms - history_days * 86_400_000, interval), end
    return align_down(last_open_ms, interval), end


@dataclass(frozen=True)
class RefillWindow:
    """The bars `[start_ms, end_ms)` one refill fetches (`candles` of them) and the
    `left` bars of the gap after `end_ms` that a later attempt must fetch."""

    start_ms: int
    end_ms: int
    candles: int
    left: int


def refill_window(
    gap_start_ms: int,
    gap_end_ms: int,
    interval: str,
    *,
    history_start_ms: int,
    resume_ms: int | None,
    max_candles: int,
) -> RefillWindow | None:
    """The part of the gap `[gap_start_ms, gap_end_ms)` one refill job fetches: from
    the latest of the gap's start, the history start and `resume_ms` (the bar after
    the newest one already stored inside the gap), at most `max_candles` bars.
    None when nothing of the gap is left to fetch (all of it before the history)."""
    start = max(gap_start_ms, align_up(history_start_ms, interval))
    if resume_ms is not None:
        start = max(start, resume_ms)
    start = align_up(start, interval)
    total = slot_count(start, gap_end_ms, interval)
    if total <= 0:
        return None
    candles = min(total, max(1, max_candles))
    end = min(gap_end_ms, start + candles * interval_ms(interval))
    return RefillWindow(start_ms=start, end_ms=end, candles=candles, left=total - candles)
