"""Every request model that takes a time refuses one whose UTC value leaves the
years 1-9999 (a 422 naming the field, not an OverflowError further in), and a
crypto backfill stays within Binance's history and now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from ticktide_gateway.backtests.planning import BacktestBatchRequest, BacktestRunRequest
from ticktide_gateway.crypto.schemas import BackfillRequest, PricesQuery, check_backfill_range
from ticktide_gateway.stocks.schemas import MultiStockQuery, StockRangeQuery
from ticktide_gateway.validation import InvalidQuery
from ticktide_gateway.weather.schemas import HistoricWeatherQuery, WeatherBackfillRequest

EARLY = "0001-01-01T00:00:00+05:00"
LATE = "9999-12-31T23:00:00-05:00"

MODELS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (PricesQuery, {"symbol": "BTCUSDT"}),
    (BackfillRequest, {"symbol": "BTCUSDT", "interval": "1d", "start": "2024-01-01"}),
    (StockRangeQuery, {"symbol": "AAPL"}),
    (MultiStockQuery, {"symbols": "AAPL"}),
    (HistoricWeatherQuery, {"location": "Helsinki"}),
    (WeatherBackfillRequest, {"location": "Helsinki", "start": "2024-01-01"}),
    (
        BacktestRunRequest,
        {"symbol": "BTCUSDT", "interval": "1h", "strategy": "sma_cross", "start": "2024-01-01"},
    ),
    (
        BacktestBatchRequest,
        {
            "symbols": ["BTCUSDT"],
            "intervals": ["1h"],
            "strategy": "sma_cross",
            "start": "2024-01-01",
        },
    ),
]


@pytest.mark.parametrize("model,base", MODELS, ids=[m.__name__ for m, _ in MODELS])
@pytest.mark.parametrize("field,value", [("start", EARLY), ("end", LATE)])
def test_unrepresentable_utc_times_are_refused_on_the_field(
    model: type[BaseModel], base: dict[str, Any], field: str, value: str
) -> None:
    body = {**base, "end": "2024-02-01T00:00:00Z", field: value}
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    locations = [e["loc"] for e in caught.value.errors()]
    assert (field,) in locations, caught.value.errors()
    assert "outside the years 1 to 9999" in str(caught.value)


def test_times_are_held_in_utc() -> None:
    query = PricesQuery.model_validate(
        {"symbol": "BTCUSDT", "start": "2024-01-01T05:00:00+05:00", "end": "9999-12-31T23:00Z"}
    )
    assert query.start == datetime(2024, 1, 1, tzinfo=UTC) and query.start.tzinfo is UTC
    assert query.end == datetime(9999, 12, 31, 23, tzinfo=UTC)


NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
BOUNDS: dict[str, Any] = {
    "earliest": datetime(2017, 7, 14, tzinfo=UTC),
    "now": NOW,
    "ahead": timedelta(days=1),
}


def test_a_year_one_crypto_backfill_is_refused() -> None:
    with pytest.raises(InvalidQuery, match=r"start \(0001-01-01T00:00:00Z\) is before the crypto"):
        check_backfill_range(
            interval="1d",
            start=datetime(1, 1, 1, tzinfo=UTC),
            end=datetime(1, 2, 1, tzinfo=UTC),
            max_candles=200_000,
            **BOUNDS,
        )


def test_a_crypto_backfill_ends_at_most_a_day_from_now() -> None:
    check_backfill_range(
        interval="1h", start=NOW, end=NOW + timedelta(days=1), max_candles=1000, **BOUNDS
    )
    with pytest.raises(InvalidQuery, match="now plus 1 day"):
        check_backfill_range(
            interval="1h",
            start=NOW,
            end=NOW + timedelta(days=1, hours=1),
            max_candles=1000,
            **BOUNDS,
        )
