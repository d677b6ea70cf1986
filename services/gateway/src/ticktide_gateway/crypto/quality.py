"""The data-quality report of one series, from facts the repository reads.

Pure: no I/O. `expected` counts the interval slots from the first to the last
stored candle inclusive; holes are [start, end) with `end` the open time of the
next stored candle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ticktide_gateway.crypto.schemas import INTERVAL_STEPS
from ticktide_gateway.serialization import iso_utc

__all__ = ["SeriesFacts", "quality_report"]


@dataclass(frozen=True)
class SeriesFacts:
    first: datetime | None
    last: datetime | None
    present: int
    refilled: int
    holes: Sequence[tuple[datetime, datetime]]


def quality_report(symbol: str, interval: str, facts: SeriesFacts) -> dict[str, object]:
    step = INTERVAL_STEPS[interval]
    if facts.first is None or facts.last is None:
        expected = 0
    else:
        expected = (facts.last - facts.first) // step + 1
    gaps = [
        {"start": iso_utc(start), "end": iso_utc(end), "candles": (end - start) // step}
        for start, end in facts.holes
    ]
    return {
        "symbol": symbol,
        "interval": interval,
        "first": iso_utc(facts.first),
        "last": iso_utc(facts.last),
        "expected": expected,
        "present": facts.present,
        "missing": max(expected - facts.present, 0),
        "refilled": facts.refilled,
        "gaps": gaps,
    }
