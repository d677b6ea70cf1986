"""Exchange sessions (real holidays) and gap detection / reconciliation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ticktide_ingest_stocks.calendar import (
    date_windows,
    is_session,
    last_closed_session,
    session_close,
    sessions_between,
)
from ticktide_ingest_stocks.gaps import Gap, GapRow, find_gaps, reconcile


def test_nasdaq_holidays_are_not_sessions() -> None:
    assert not is_session("NASDAQ", date(2024, 7, 4))
    assert not is_session("NASDAQ", date(2024, 12, 25))
    assert sessions_between("NASDAQ", date(2024, 7, 1), date(2024, 7, 9)) == [
        date(2024, 7, 1),
        date(2024, 7, 2),
        date(2024, 7, 3),
        date(2024, 7, 5),
        date(2024, 7, 8),
    ]


def test_helsinki_holidays_are_not_sessions() -> None:
    assert not is_session("OMXH", date(2024, 12, 6))  # Independence Day
    assert not is_session("OMXH", date(2024, 6, 21))  # Midsummer Eve
    assert is_session("OMXH", date(2024, 7, 4))  # a US holiday only
    assert is_session("NASDAQ", date(2024, 12, 6))


def test_session_closes_and_last_closed_session() -> None:
    assert session_close("NASDAQ", date(2024, 7, 1)) == datetime(2024, 7, 1, 20, 0, tzinfo=UTC)
    assert session_close("OMXH", date(2024, 12, 4)) == datetime(2024, 12, 4, 16, 30, tzinfo=UTC)
    # Early close on the day before Independence Day: 13:00 New York.
    assert session_close("NASDAQ", date(2024, 7, 3)) == datetime(2024, 7, 3, 17, 0, tzinfo=UTC)
    before = datetime(2024, 7, 1, 19, 59, tzinfo=UTC)
    assert last_closed_session("NASDAQ", before) == date(2024, 6, 28)
    assert last_closed_session("NASDAQ", before + timedelta(minutes=1)) == date(2024, 7, 1)
    assert last_closed_session("OMXH", datetime(2024, 12, 9, 12, tzinfo=UTC)) == date(2024, 12, 5)


def test_date_windows_newest_first() -> None:
    assert date_windows(date(2024, 1, 1), date(2024, 1, 10), 4) == [
        (date(2024, 1, 6), date(2024, 1, 10)),
        (date(2024, 1, 2), date(2024, 1, 6)),
        (date(2024, 1, 1), date(2024, 1, 2)),
    ]
    assert date_windows(date(2024, 1, 1), date(2024, 1, 1), 4) == []


def test_gaps_are_missing_sessions_only() -> None:
    expected = sessions_between("NASDAQ", date(2024, 6, 24), date(2024, 7, 16))
    stored = [
        d for d in expected if d not in (date(2024, 7, 2), date(2024, 7, 3), date(2024, 7, 10))
    ]
    # 2024-07-04 (holiday) and weekends are absent from `expected`: the first hole
    # ends on 07-03, it does not run over the holiday.
    assert find_gaps(expected, stored) == [
        Gap(date(2024, 7, 2), date(2024, 7, 3), 2),
        Gap(date(2024, 7, 10), date(2024, 7, 10), 1),
    ]
    assert find_gaps(expected, expected) == []
    assert find_gaps(expected, []) == []
    # Only between the first and the last stored date.
    assert find_gaps(expected, expected[3:-3]) == []


def test_reconcile_opens_updates_and_refills() -> None:
    current = [
        Gap(date(2024, 7, 2), date(2024, 7, 2), 1),
        Gap(date(2024, 7, 10), date(2024, 7, 11), 2),
    ]
    rows = [
        GapRow(1, date(2024, 7, 2), date(2024, 7, 3)),  # partly refilled: shrinks
        GapRow(2, date(2024, 6, 3), date(2024, 6, 3)),  # complete now
    ]
    changes = reconcile(current, rows)
    assert changes.opened == [Gap(date(2024, 7, 10), date(2024, 7, 11), 2)]
    assert changes.updated == [(1, current[0])]
    assert changes.refilled == [2]
    assert reconcile(current, [GapRow(5, date(2024, 7, 10), date(2024, 7, 11))]).updated == []
