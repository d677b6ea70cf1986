"""The window arithmetic of the aggregated series (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticktide_gateway.aggregate_paths import PLAIN_PATH, SeriesPath, bucket_ceil, full_days
from ticktide_gateway.crypto.schemas import DEFAULT_BUCKETS, bucket_window
from ticktide_gateway.validation import InvalidQuery

H = timedelta(hours=1)
D = timedelta(days=1)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2024, 5, day, hour, minute, tzinfo=UTC)


def test_bucket_ceil_keeps_a_start_and_rounds_up_inside_a_bucket() -> None:
    assert bucket_ceil(at(3), D) == at(3)
    assert bucket_ceil(at(3, 0, 1), D) == at(4)
    assert bucket_ceil(at(3, 5), 4 * H) == at(3, 8)
    assert bucket_ceil(at(3, 8), 4 * H) == at(3, 8)


def test_bucket_ceil_at_the_end_of_year_9999_does_not_overflow() -> None:
    last = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert bucket_ceil(last, D) == datetime(9999, 12, 31, tzinfo=UTC)
    assert bucket_ceil(last, 4 * H) == datetime(9999, 12, 31, 20, tzinfo=UTC)
    first, stop = bucket_window("1d", None, last, at(3), 365)
    assert stop == datetime(9999, 12, 31, tzinfo=UTC) and stop - first == 365 * D


def test_full_days_are_the_whole_utc_days_of_the_window() -> None:
    assert full_days(at(1), at(4)) == (at(1), at(4))
    assert full_days(at(1, 7), at(4, 13)) == (at(2), at(4))
    assert full_days(at(1, 7), at(2, 13)) == (at(1, 7), at(1, 7))  # no whole day: empty
    assert full_days(at(1, 7), at(2)) == (at(1, 7), at(1, 7))


def test_bucket_window_defaults_to_the_buckets_up_to_the_open_one() -> None:
    first, stop = bucket_window("1d", None, None, at(10, 13, 5), 5000)
    assert stop == at(11) and first == at(11) - DEFAULT_BUCKETS * D
    first, stop = bucket_window("4h", at(9, 1), at(10, 13), at(20), 5000)
    assert (first, stop) == (at(9, 4), at(10, 16))


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [
        (at(10), at(10), "before end"),
        (at(10, 1), at(10, 2), "before end"),
        (at(1), at(30), "too large"),
    ],
)
def test_bucket_window_refuses_empty_and_too_large_ranges(
    start: datetime, end: datetime, words: str
) -> None:
    with pytest.raises(InvalidQuery, match=words):
        bucket_window("1d", start, end, at(20), 10)


def test_the_path_describes_itself() -> None:
    assert "plain" in PLAIN_PATH.describe()
    both = SeriesPath(True, True, True).describe()
    assert "crypto_prices_daily" in both and "weather_historic_daily" in both
