"""Gap detection of daily stock series (pure).

A gap is a run of consecutive expected sessions (per the exchange calendar)
with no stored bar, between the first and the last stored date; weekends and
holidays are not sessions, so they never make gaps. `reconcile` decides how the
`stock_gaps` rows change after a detection pass: new gaps open, open gaps whose
sessions are all stored again become 'refilled'.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

__all__ = ["Gap", "GapRow", "GapChanges", "find_gaps", "reconcile"]


@dataclass(frozen=True)
class Gap:
    """Missing sessions `start`..`end` (both inclusive)."""

    start: date
    end: date
    sessions: int


@dataclass(frozen=True)
class GapRow:
    """An open `stock_gaps` row."""

    id: int
    start: date
    end: date


@dataclass(frozen=True)
class GapChanges:
    opened: list[Gap]  # insert (or reopen) as 'open'
    updated: list[tuple[int, Gap]]  # same start, new extent
    refilled: list[int]  # ids of open rows that are complete now
    still_open: list[Gap]


def find_gaps(expected: Sequence[date], stored: Iterable[date]) -> list[Gap]:
    """Runs of `expected` sessions missing from `stored`, limited to the span
    between the first and the last stored date (nothing stored: no gaps)."""
    have = set(stored)
    if not have:
        return []
    first, last = min(have), max(have)
    gaps: list[Gap] = []
    run: list[date] = []
    for day in sorted(expected):
        if day < first or day > last:
            continue
        if day in have:
            if run:
                gaps.append(Gap(run[0], run[-1], len(run)))
                run = []
        else:
            run.append(day)
    if run:  # unreachable while `last` is stored, kept for safety
        gaps.append(Gap(run[0], run[-1], len(run)))
    return gaps


def _overlaps(a_start: date, a_end: date, b_start: date, b_end: date) -> bool:
    return a_start <= b_end and b_start <= a_end


def reconcile(current: Sequence[Gap], open_rows: Sequence[GapRow]) -> GapChanges:
    """How `stock_gaps` changes given the gaps detected now and the open rows."""
    opened: list[Gap] = []
    updated: list[tuple[int, Gap]] = []
    for gap in current:
        matching = [r for r in open_rows if _overlaps(gap.start, gap.end, r.start, r.end)]
        same_start = [r for r in matching if r.start == gap.start]
        if same_start:
            if same_start[0].end != gap.end:
                updated.append((same_start[0].id, gap))
        elif not matching:
            opened.append(gap)
    refilled = [
        row.id
        for row in open_rows
        if not any(_overlaps(row.start, row.end, g.start, g.end) for g in current)
    ]
    return GapChanges(opened=opened, updated=updated, refilled=refilled, still_open=list(current))
