"""Interval arithmetic and gap representation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticktide_ingest_crypto.gaps import (
    Gap,
    align_down,
    align_up,
    datetime_to_ms,
    find_gaps,
    incremental_range,
    interval_ms,
    ms_to_datetime,
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
