"""The market pages' pure pieces: the range picker, the request windows and the
statistics of a candle series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticktide_web.pages.market import (
    BadInput,
    candle_stats,
    choose_range,
    form_time,
    months_before,
    parse_time,
    windows,
)

NOW = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
FIRST = datetime(2022, 1, 1, tzinfo=UTC)
LAST_END = datetime(2022, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def pick(key: str, start: str = "", end: str = "", **kw: object) -> tuple[datetime, datetime, str]:
    options: dict[str, object] = {"first": FIRST, "last_end": LAST_END, "now": NOW, "default": "3m"}
    options.update(kw)
    chosen = choose_range(key, start, end, **options)  # type: ignore[arg-type]
    return chosen.start, chosen.end, chosen.key


def test_a_preset_ends_at_the_last_stored_bar() -> None:
    assert pick("1m") == (datetime(2022, 2, 1, tzinfo=UTC), LAST_END, "1m")
    assert pick("1w")[0] == datetime(2022, 2, 22, tzinfo=UTC)
    assert pick("1y")[0] == datetime(2021, 3, 1, tzinfo=UTC)
    assert pick("all") == (FIRST, LAST_END, "all")
    assert pick("") == (datetime(2021, 12, 1, tzinfo=UTC), LAST_END, "3m")  # the default


def test_without_stored_bars_a_preset_ends_now_aligned_to_the_interval() -> None:
    start, end, _ = pick("1w", first=None, last_end=None, align=HOUR)
    assert end == datetime(2026, 12, 1, 22, tzinfo=UTC)
    assert start == end - timedelta(days=7)
    assert pick("1w", first=None, last_end=None, align=timedelta(days=1))[1] == datetime(
        2026, 12, 1, tzinfo=UTC
    )


def test_dates_are_used_when_custom_or_when_no_range_is_given() -> None:
    assert pick("custom", "2022-01-05", "2022-01-06 12:00") == (
        datetime(2022, 1, 5, tzinfo=UTC),
        datetime(2022, 1, 6, 12, tzinfo=UTC),
        "custom",
    )
    assert pick("", "2022-01-05T00:00:00Z", "")[1] == LAST_END  # End defaults to the last bar
    assert pick("", "", "2022-01-10")[0] == FIRST  # Start defaults to the first stored bar
    # A preset ignores the dates (the form keeps showing them).
    assert pick("1m", "2020-01-01", "2020-02-01")[2] == "1m"


@pytest.mark.parametrize(
    ("key", "start", "end", "field"),
    [
        ("decade", "", "", "range"),
        ("custom", "yesterday", "", "start"),
        ("custom", "2022-01-01", "soon", "end"),
        ("custom", "2022-02-01", "2022-01-01", "start"),
        ("custom", "2022-01-01", "2022-01-01", "start"),
        ("1d", "", "", "range"),
    ],
)
def test_bad_choices_name_their_field(key: str, start: str, end: str, field: str) -> None:
    with pytest.raises(BadInput) as raised:
        pick(key, start, end)
    assert raised.value.field == field


def test_times_read_and_shown_in_utc() -> None:
    assert parse_time("2024-01-01T02:00:00+02:00", "start") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_time(" 2024-01-01 05:30 ", "start") == datetime(2024, 1, 1, 5, 30, tzinfo=UTC)
    assert form_time(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01"
    assert form_time(datetime(2024, 1, 1, 5, 30, tzinfo=UTC)) == "2024-01-01 05:30"
    assert form_time(datetime(2024, 1, 1, 5, 30, tzinfo=UTC), with_time=False) == "2024-01-01"
    assert form_time(None) == ""


def test_months_before_clamps_to_the_end_of_a_shorter_month() -> None:
    assert months_before(datetime(2024, 3, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2024, 1, 15, 3, tzinfo=UTC), 1) == datetime(
        2023, 12, 15, 3, tzinfo=UTC
    )
    assert months_before(datetime(2024, 5, 1, tzinfo=UTC), 60) == datetime(2019, 5, 1, tzinfo=UTC)


def test_a_long_range_is_cut_into_windows_the_api_accepts() -> None:
    start = datetime(2019, 1, 1, tzinfo=UTC)
    end = start + 43824 * HOUR  # five years of 1h candles
    pieces = windows(start, end, HOUR)
    assert len(pieces) == 3
    assert pieces[0] == (start, start + 20000 * HOUR)
    assert pieces[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(pieces, pieces[1:], strict=False))
    assert windows(start, start + HOUR, HOUR) == [(start, start + HOUR)]
    assert windows(start, start, HOUR) == []


def test_candle_statistics() -> None:
    candles = [
        {"t": "a", "o": 10.0, "h": 12.0, "l": 9.0, "c": 11.0, "v": 100.0},
        {"t": "b", "o": 11.0, "h": 15.0, "l": 10.5, "c": 14.0, "v": 300.0},
        {"t": "c", "o": 14.0, "h": 14.5, "l": 8.0, "c": 12.5, "v": 200.0},
    ]
    stats = candle_stats(candles)
    assert stats is not None
    assert stats["count"] == 3
    assert (stats["open"], stats["close"]) == (10.0, 12.5)
    assert stats["high"]["t"] == "b" and stats["low"]["t"] == "c"
    assert stats["change_pct"] == pytest.approx(25.0)
    assert stats["average_volume"] == pytest.approx(200.0)
    # Without an open (Helsinki), the change starts from the first close.
    assert candle_stats([{**candles[0], "o": None}, candles[1]])["change_pct"] == pytest.approx(  # type: ignore[index]
        (14.0 / 11.0 - 1) * 100
    )
    assert candle_stats([]) is None
