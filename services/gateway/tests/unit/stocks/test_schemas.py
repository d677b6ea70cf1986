"""The pure rules of the stocks and weather inputs: symbol lists, windows and
their defaults, backfill ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ticktide_gateway.stocks.schemas import (
    LatestStocksQuery,
    StockQuery,
    check_stocks_backfill,
    parse_symbol_list,
    stats_window,
    stock_window,
)
from ticktide_gateway.validation import EARLIEST, LATEST, InvalidQuery, bound_text
from ticktide_gateway.weather.schemas import check_weather_backfill, weather_window


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_symbol_list_keeps_order_drops_repeats_and_blanks() -> None:
    assert parse_symbol_list(" aapl, NOKIA,,AAPL ,nda-fi") == ["AAPL", "NOKIA", "NDA-FI"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "at least one"),
        (" , ", "at least one"),
        ("AAPL,BAD SYMBOL", "'BAD SYMBOL' is not a stock symbol"),
        ("-AAPL", "is not a stock symbol"),
        ("X" * 100, "..."),
        (",".join(f"S{i}" for i in range(21)), "21 given, at most 20"),
    ],
)
def test_symbol_list_rejections(text: str, fragment: str) -> None:
    with pytest.raises(InvalidQuery, match="symbols") as caught:
        parse_symbol_list(text)
    assert fragment in str(caught.value)


def test_symbol_and_exchange_are_case_insensitive() -> None:
    assert StockQuery(symbol=" nda-fi ").symbol == "NDA-FI"
    assert LatestStocksQuery(exchange="omxh").exchange == "OMXH"


def test_stock_window_defaults_to_the_year_up_to_the_last_stored_day() -> None:
    last = utc(2024, 6, 28)
    assert stock_window(None, None, last) == (utc(2023, 6, 30), utc(2024, 6, 29))
    assert stock_window(utc(2020, 1, 1), None, last) == (utc(2020, 1, 1), utc(2024, 6, 29))
    assert stock_window(None, utc(2024, 1, 1), last) == (utc(2023, 1, 1), utc(2024, 1, 1))
    # A start after everything stored reads nothing rather than failing.
    start, end = stock_window(utc(2025, 1, 1), None, last)
    assert start == end
    with pytest.raises(InvalidQuery, match=r"start \(2024-01-02\) must be before end"):
        stock_window(utc(2024, 1, 2), utc(2024, 1, 1), last)


def test_windows_clamp_instead_of_overflowing() -> None:
    start, end = stock_window(None, utc(1, 1, 2), None)
    assert (start, end) == (EARLIEST, utc(1, 1, 2))
    assert stats_window(None, None) == (EARLIEST, LATEST)
    assert stock_window(LATEST - timedelta(hours=1), None, None)[1] == LATEST


def test_weather_window_default_limit_and_open_end() -> None:
    now = utc(2024, 5, 10, 12, 30)
    assert weather_window(None, None, now) == (utc(2024, 5, 3, 13), utc(2024, 5, 10, 13))
    # Only a start long ago: the 366 days from it, not a 422.
    assert weather_window(utc(2020, 1, 1), None, now) == (utc(2020, 1, 1), utc(2021, 1, 1))
    assert weather_window(utc(2024, 1, 1), utc(2025, 1, 1), now)[1] == utc(2025, 1, 1)
    with pytest.raises(InvalidQuery, match="more than 366 days"):
        weather_window(utc(2024, 1, 1), utc(2025, 1, 2), now)


STOCK_BOUNDS: dict[str, Any] = {
    "earliest": date(1970, 1, 1),
    "now": utc(2025, 3, 1, 12),
    "ahead": timedelta(days=1),
}
WEATHER_BOUNDS = {**STOCK_BOUNDS, "earliest": date(1940, 1, 1)}


def test_backfill_ranges() -> None:
    check_stocks_backfill(date(2024, 1, 1), date(2024, 1, 2), 1, **STOCK_BOUNDS)
    with pytest.raises(InvalidQuery, match="must be before end"):
        check_stocks_backfill(date(2024, 1, 1), date(2024, 1, 1), 10, **STOCK_BOUNDS)
    with pytest.raises(InvalidQuery, match="2 days requested, at most 1"):
        check_stocks_backfill(date(2024, 1, 1), date(2024, 1, 3), 1, **STOCK_BOUNDS)
    assert check_weather_backfill(
        utc(2024, 1, 1, 0, 10), utc(2024, 1, 1, 0, 20), 1, **WEATHER_BOUNDS
    ) == (utc(2024, 1, 1), utc(2024, 1, 1, 1))
    with pytest.raises(InvalidQuery, match="more than 1 days"):
        check_weather_backfill(utc(2024, 1, 1), utc(2024, 1, 2, 0, 1), 1, **WEATHER_BOUNDS)


def test_backfills_stay_within_the_source_history_and_now() -> None:
    with pytest.raises(InvalidQuery, match=r"start \(1969-12-31T00:00:00Z\) is before the stocks"):
        check_stocks_backfill(date(1969, 12, 31), date(1970, 1, 2), 10, **STOCK_BOUNDS)
    check_stocks_backfill(date(1970, 1, 1), date(1970, 1, 2), 10, **STOCK_BOUNDS)
    check_stocks_backfill(date(2025, 3, 1), date(2025, 3, 2), 10, **STOCK_BOUNDS)
    with pytest.raises(InvalidQuery, match="STOCKS_HISTORY_START"):
        check_stocks_backfill(date(1, 1, 1), date(1, 2, 1), 100, **STOCK_BOUNDS)
    with pytest.raises(InvalidQuery, match=r"end \(2025-03-03T00:00:00Z\) is after"):
        check_stocks_backfill(date(2025, 3, 1), date(2025, 3, 3), 10, **STOCK_BOUNDS)
    with pytest.raises(InvalidQuery, match="WEATHER_HISTORY_START"):
        check_weather_backfill(utc(1939, 12, 31), utc(1940, 1, 2), 10, **WEATHER_BOUNDS)
    with pytest.raises(InvalidQuery, match="now plus 1 day"):
        check_weather_backfill(utc(2025, 3, 1), utc(2025, 3, 2, 13), 10, **WEATHER_BOUNDS)


def test_bound_text() -> None:
    assert bound_text(utc(2024, 1, 2)) == "2024-01-02"
    assert bound_text(datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05Z"
