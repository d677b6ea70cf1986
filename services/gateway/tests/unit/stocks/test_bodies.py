"""Bodies of the stocks and weather endpoints: spliced JSON, exact numbers,
changes, null statistics with too few bars, source labels."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from ticktide_gateway.cache import SeriesKey, versioned_key
from ticktide_gateway.stocks.bodies import latest_body, multi_body, stats_body, stock_prices_body
from ticktide_gateway.weather.bodies import historic_weather_body


def test_prices_body_splices_bars_and_labels_sources() -> None:
    body = stock_prices_body(
        "NOKIA", "OMXH", '{"date":"2024-01-02","o":null,"c":3.215}', ["simulated", "nasdaq-nordic"]
    )
    assert json.loads(body) == {
        "symbol": "NOKIA",
        "exchange": "OMXH",
        "source": "nasdaq-nordic+simulated",
        "prices": [{"date": "2024-01-02", "o": None, "c": 3.215}],
    }
    empty = stock_prices_body("X", "NASDAQ", None, [])
    assert json.loads(multi_body([empty, empty]))["stocks"][0] == {
        "symbol": "X",
        "exchange": "NASDAQ",
        "source": None,
        "prices": [],
    }


def _latest_row(close: str | None, previous: str | None) -> dict[str, object]:
    return {
        "symbol": "AAPL",
        "name": "Apple Inc.",
        "exchange": "NASDAQ",
        "currency": "USD",
        "datetime": datetime(2024, 1, 2, tzinfo=UTC) if close else None,
        "open_price": None,
        "high_price": Decimal(close) if close else None,
        "low_price": Decimal(close) if close else None,
        "close_price": Decimal(close) if close else None,
        "volume": Decimal("100") if close else None,
        "source": "nasdaq" if close else None,
        "previous_close": Decimal(previous) if previous else None,
    }


def test_latest_change_is_exact_against_the_previous_close() -> None:
    body = json.loads(
        latest_body("NASDAQ", [_latest_row("185.64", "192.53"), _latest_row(None, None)])
    )
    first, idle = body["stocks"]
    assert first["change"] == float(Decimal("185.64") - Decimal("192.53")) == -6.89
    assert abs(first["change_pct"] - (-6.89 / 192.53 * 100)) < 1e-12
    assert (first["date"], first["o"], body["source"]) == ("2024-01-02", None, "nasdaq")
    assert idle["date"] is None and idle["change"] is None


def test_stats_nulls_with_fewer_than_two_bars() -> None:
    row = {
        "days": 1,
        "first_close": Decimal("10.5"),
        "last_close": Decimal("10.5"),
        "annualized_volatility": None,
        "high_52w": Decimal("11"),
        "low_52w": Decimal("10"),
        "average_volume": Decimal("100"),
        "max_drawdown": 0.0,
    }
    body = json.loads(
        stats_body({"symbol": "S", "exchange": "NASDAQ"}, "2024-01-01", None, row, [])
    )
    assert (body["period_return"], body["annualized_volatility"]) == (None, None)
    assert (body["first_close"], body["high_52w"], body["max_drawdown"]) == (10.5, 11.0, 0.0)
    two = json.loads(
        stats_body(
            {"symbol": "S", "exchange": "NASDAQ"},
            None,
            None,
            {**row, "days": 2, "last_close": Decimal("12.6")},
            ["nasdaq"],
        )
    )
    assert abs(two["period_return"] - 0.2) < 1e-15


def test_historic_body_field_follows_the_aggregate() -> None:
    hourly = json.loads(historic_weather_body("Helsinki", "a", "b", None, "[]", []))
    daily = json.loads(historic_weather_body("Helsinki", "a", "b", "daily", "[]", ["open-meteo"]))
    assert hourly["observations"] == [] and "days" not in hourly
    assert daily["days"] == [] and daily["aggregate"] == "daily"


def test_versioned_key_names_every_series_version_and_part() -> None:
    key = versioned_key(
        "p:",
        "stocks-multi",
        [SeriesKey("stocks", "AAPL"), SeriesKey("stocks", "NOKIA")],
        [3, 0],
        datetime(2024, 1, 1, tzinfo=UTC),
        None,
    )
    assert key == "p:gateway:stocks-multi:AAPL@v3,NOKIA@v0:2024-01-01T00:00:00+00:00:-"
    assert (
        SeriesKey("prices", "BTCUSDT:1h").version_key("p:") == "p:gateway:prices-version:BTCUSDT:1h"
    )
