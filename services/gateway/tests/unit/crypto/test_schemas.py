"""Unit tests of the prices window rules and the request models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from ticktide_gateway.crypto.schemas import (
    BackfillRequest,
    PricesQuery,
    check_backfill_range,
    resolve_price_window,
)
from ticktide_gateway.validation import InvalidQuery

NOW = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)


def window(**kwargs: object):  # type: ignore[no-untyped-def]
    params: dict[str, object] = {
        "interval": "1h",
        "start": None,
        "end": None,
        "limit": None,
        "now": NOW,
        "default_limit": 1000,
        "max_candles": 20000,
    }
    params.update(kwargs)
    return resolve_price_window(**params)  # type: ignore[arg-type]


def test_without_start_reads_latest_default_limit_before_now() -> None:
    w = window()
    assert (w.mode, w.start, w.end, w.limit) == ("latest", None, NOW, 1000)


def test_with_start_and_no_limit_reads_whole_range() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    end = datetime(2025, 1, 1, tzinfo=UTC)
    w = window(start=start, end=end)
    assert (w.mode, w.start, w.end, w.limit) == ("range", start, end, 8784)


def test_naive_times_are_utc_and_offsets_are_converted() -> None:
    w = window(
        start=datetime(2024, 1, 1), end=datetime(2024, 1, 1, 5, tzinfo=timezone(timedelta(hours=2)))
    )
    assert w.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert w.end == datetime(2024, 1, 1, 3, tzinfo=UTC)
    assert w.limit == 3


@pytest.mark.parametrize(
    "start,end",
    [
        (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)),
    ],
)
def test_reversed_or_empty_range_is_rejected(start: datetime, end: datetime) -> None:
    with pytest.raises(InvalidQuery, match="must be before end"):
        window(start=start, end=end)


def test_range_larger_than_max_is_rejected_unless_limited() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidQuery, match="range too large.*more than the maximum of 20000"):
        window(start=start)
    assert window(start=start, limit=500).limit == 500


@pytest.mark.parametrize("limit", [0, -1, 20001])
def test_limit_out_of_bounds(limit: int) -> None:
    with pytest.raises(InvalidQuery, match="limit must be between 1 and 20000"):
        window(limit=limit)


def test_daily_interval_counts_days() -> None:
    w = window(
        interval="1d",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 31, 1, tzinfo=UTC),
    )
    assert w.limit == 31


def test_prices_query_normalises_symbol_and_restores_plus() -> None:
    q = PricesQuery.model_validate(
        {"symbol": " btcusdt ", "interval": "4h", "start": "2024-01-01T00:00:00 02:00"}
    )
    assert q.symbol == "BTCUSDT"
    assert q.start == datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2)))


@pytest.mark.parametrize(
    "field,value",
    [
        ("symbol", "BTC-USDT"),
        ("symbol", "X"),
        ("interval", "2h"),
        ("start", "yesterday"),
    ],
)
def test_prices_query_rejects(field: str, value: str) -> None:
    with pytest.raises(ValidationError):
        PricesQuery.model_validate({"symbol": "BTCUSDT", field: value})


def test_backfill_request_forbids_unknown_fields_and_checks_range() -> None:
    with pytest.raises(ValidationError):
        BackfillRequest.model_validate(
            {
                "symbol": "BTCUSDT",
                "interval": "1h",
                "start": "2024-01-01",
                "end": "2024-02-01",
                "x": 1,
            }
        )
    start, end = check_backfill_range(
        interval="1d",
        start=datetime(2024, 1, 1),
        end=datetime(2024, 2, 1),
        max_candles=1000,
        **BACKFILL_BOUNDS,
    )
    assert (start.tzinfo, end - start) == (UTC, timedelta(days=31))
    with pytest.raises(InvalidQuery, match="range too large: 744 1h candles"):
        check_backfill_range(
            interval="1h",
            start=datetime(2024, 1, 1),
            end=datetime(2024, 2, 1),
            max_candles=100,
            **BACKFILL_BOUNDS,
        )


BACKFILL_BOUNDS: dict[str, Any] = {
    "earliest": datetime(2017, 7, 14, tzinfo=UTC),
    "now": NOW,
    "ahead": timedelta(days=1),
}
