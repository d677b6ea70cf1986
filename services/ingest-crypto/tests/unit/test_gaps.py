"""Interval arithmetic and gap representation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticktide_ingest_crypto.gaps import (
    Gap,
    RefillWindow,
    align_down,
    align_up,
    datetime_to_ms,
    find_gaps,
    incremental_range,
    interval_ms,
    ms_to_datetime,
    refill_window,
    slot_count,
)

H = 3_600_000
DAY = 86_400_000
JAN1 = datetime_to_ms(datetime(2024, 1, 1, tzinfo=UTC))


def test_steps_and_alignment() -> None:
    assert interval_ms("4h") == 4 * H
    assert align_down(JAN1 + 5 * H + 17, "4h") == JAN1 + 4 * H
    assert align_up(JAN1 + 5 * H, "4h") == JAN1 + 8 * H
    assert align_up(JAN1, "1d") == JAN1
    assert ms_to_datetime(align_down(JAN1 + 23 * H, "1d")) == datetime(2024, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="unsupported interval"):
        interval_ms("1m")


def test_slot_counts_end_exclusive() -> None:
    assert slot_count(JAN1, JAN1 + DAY, "1h") == 24
    assert slot_count(JAN1, JAN1 + DAY + 1, "1h") == 25
    assert slot_count(JAN1 + 1, JAN1 + DAY, "1h") == 23
    assert slot_count(JAN1, JAN1, "1d") == 0
    assert slot_count(JAN1, JAN1 + 91 * DAY, "1d") == 91


def test_find_gaps() -> None:
    times = [JAN1 + i * H for i in range(10) if i not in (3, 6, 7)]
    gaps = find_gaps(times, "1h")
    assert gaps == [
        Gap(ms_to_datetime(JAN1 + 3 * H), ms_to_datetime(JAN1 + 4 * H), 1),
        Gap(ms_to_datetime(JAN1 + 6 * H), ms_to_datetime(JAN1 + 8 * H), 2),
    ]
    assert gaps[1].as_json()["candles"] == 2
    assert find_gaps([JAN1, JAN1 + H], "1h") == []


def test_incremental_range() -> None:
    now = JAN1 + 10 * DAY + 5 * H + 123
    assert incremental_range(JAN1 + 2 * DAY, now, "1h", 90) == (
        JAN1 + 2 * DAY,
        JAN1 + 10 * DAY + 6 * H,
    )
    start, end = incremental_range(None, now, "1d", 5)
    assert (start, end) == (JAN1 + 5 * DAY, JAN1 + 11 * DAY)


def test_refill_window_takes_the_whole_gap_when_it_is_small() -> None:
    window = refill_window(10 * H, 15 * H, "1h", history_start_ms=0, resume_ms=None, max_candles=9)
    assert window == RefillWindow(start_ms=10 * H, end_ms=15 * H, candles=5, left=0)


def test_refill_window_is_capped_at_max_candles_and_says_what_is_left() -> None:
    window = refill_window(0, 1000 * H, "1h", history_start_ms=0, resume_ms=None, max_candles=100)
    assert window == RefillWindow(start_ms=0, end_ms=100 * H, candles=100, left=900)


def test_refill_window_resumes_after_the_newest_stored_bar_of_the_gap() -> None:
    window = refill_window(
        0, 1000 * H, "1h", history_start_ms=0, resume_ms=100 * H, max_candles=100
    )
    assert window == RefillWindow(start_ms=100 * H, end_ms=200 * H, candles=100, left=800)
    last = refill_window(0, 1000 * H, "1h", history_start_ms=0, resume_ms=950 * H, max_candles=100)
    assert last == RefillWindow(start_ms=950 * H, end_ms=1000 * H, candles=50, left=0)


def test_refill_window_never_reaches_before_the_history_start() -> None:
    year_one = datetime_to_ms(datetime(1, 2, 1, tzinfo=UTC))
    history = datetime_to_ms(datetime(2017, 7, 14, tzinfo=UTC))
    today = datetime_to_ms(datetime(2025, 3, 1, tzinfo=UTC))
    window = refill_window(
        year_one, today, "1d", history_start_ms=history, resume_ms=None, max_candles=200_000
    )
    assert window is not None
    assert (window.start_ms, window.end_ms, window.left) == (history, today, 0)
    assert window.candles == (today - history) // DAY
    # A gap wholly before the history has nothing to refill.
    assert (
        refill_window(
            year_one, history - DAY, "1d", history_start_ms=history, resume_ms=None, max_candles=9
        )
        is None
    )
    # The 739,829-candle gap of the year-1 report: at most max_candles per refill.
    capped = refill_window(
        year_one, today, "1d", history_start_ms=year_one, resume_ms=None, max_candles=200_000
    )
    assert capped is not None and capped.candles == 200_000 and capped.left > 500_000
