"""Unit tests of the JSON bodies: digits survive, times end in Z, sources are labelled."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from ticktide_gateway.serialization import (
    iso_from_epoch_seconds,
    prices_body,
    source_label,
    symbols_body,
)

PROVIDER_STRINGS = ["42123.45000000", "0.00001234", "1.00000000", "69000.01000000",
                    "123456.78901234", "0.10000000", "3e-8"]


def test_prices_numbers_reproduce_provider_strings() -> None:
    t = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    floats = [float(s) for s in PROVIDER_STRINGS]
    rows = [(t, f, f, f, f, f, "binance") for f in floats]
    body = json.loads(prices_body("BTCUSDT", "1h", rows))
    got = [c["o"] for c in body["candles"]]
    assert [repr(x) for x in got] == [repr(float(s)) for s in PROVIDER_STRINGS]
    assert [Decimal(repr(x)) for x in got] == [Decimal(s) for s in PROVIDER_STRINGS]
    assert body["candles"][0]["t"] == "2024-01-01T00:00:00Z"
    assert (body["symbol"], body["interval"], body["source"]) == ("BTCUSDT", "1h", "binance")


def test_epoch_seconds_format_as_iso_utc() -> None:
    for moment in (datetime(1970, 1, 1, tzinfo=UTC), datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC),
                   datetime(1969, 12, 31, 4, tzinfo=UTC), datetime(2038, 1, 19, 3, 14, 8,
                                                                  tzinfo=UTC)):
        expected = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert iso_from_epoch_seconds(int(moment.timestamp())) == expected
        body = json.loads(prices_body("X", "1h", [(int(moment.timestamp()), 1.0, 1.0, 1.0, 1.0,
                                                   1.0, "binance")]))
        assert body["candles"][0]["t"] == expected


def test_source_label() -> None:
    assert source_label([]) is None
    assert source_label(["binance", "binance"]) == "binance"
    assert source_label(["simulated", "binance", "simulated"]) == "binance+simulated"


def test_empty_prices_body_has_null_source() -> None:
    assert json.loads(prices_body("ETHUSDT", "1d", [])) == {
        "symbol": "ETHUSDT", "interval": "1d", "source": None, "candles": []}


def test_symbols_body_groups_intervals() -> None:
    first = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        {"binance_symbol": "BTCUSDT", "base": "BTC", "name": "Bitcoin", "interval_type": "1d",
         "candles": 3, "first": first, "last": first, "sources": ["simulated"]},
        {"binance_symbol": "BTCUSDT", "base": "BTC", "name": "Bitcoin", "interval_type": "1h",
         "candles": 5, "first": first, "last": first, "sources": ["binance"]},
        {"binance_symbol": "ETHUSDT", "base": "ETH", "name": "Ethereum", "interval_type": None,
         "candles": None, "first": None, "last": None, "sources": None},
    ]
    body = json.loads(symbols_body(rows))
    btc, eth = body["symbols"]
    assert btc["source"] == "binance+simulated"
    assert btc["intervals"]["1h"] == {"candles": 5, "first": "2024-01-01T00:00:00Z",
                                      "last": "2024-01-01T00:00:00Z", "source": "binance"}
    assert eth == {"symbol": "ETHUSDT", "base": "ETH", "name": "Ethereum", "source": None,
                   "intervals": {}}
