"""Unit tests of the JSON bodies: digits survive, times end in Z, sources are labelled."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ticktide_gateway.crypto.bodies import prices_body, symbols_body
from ticktide_gateway.serialization import source_label


def test_prices_body_wraps_the_candle_objects() -> None:
    objects = (
        '{"t":"2024-01-01T00:00:00Z","o":42123.45000000,"h":1,"l":1,"c":1,"v":0.00001234},'
        '{"t":"2024-01-01T01:00:00Z","o":1,"h":1,"l":1,"c":1,"v":1}'
    )
    body = json.loads(prices_body("BTCUSDT", "1h", objects, ["binance"]))
    assert (body["symbol"], body["interval"], body["source"]) == ("BTCUSDT", "1h", "binance")
    assert [c["t"] for c in body["candles"]] == ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"]
    assert repr(body["candles"][0]["o"]) == "42123.45"
    assert repr(body["candles"][0]["v"]) == repr(float("0.00001234"))


def test_source_label() -> None:
    assert source_label([]) is None
    assert source_label(["binance", "binance"]) == "binance"
    assert source_label(["simulated", "binance", "simulated"]) == "binance+simulated"


def test_empty_prices_body_has_null_source() -> None:
    assert json.loads(prices_body("ETHUSDT", "1d", "", [])) == {
        "symbol": "ETHUSDT",
        "interval": "1d",
        "source": None,
        "candles": [],
    }


def test_symbols_body_groups_intervals() -> None:
    first = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        {
            "binance_symbol": "BTCUSDT",
            "base": "BTC",
            "name": "Bitcoin",
            "interval_type": "1d",
            "candles": 3,
            "first": first,
            "last": first,
            "sources": ["simulated"],
        },
        {
            "binance_symbol": "BTCUSDT",
            "base": "BTC",
            "name": "Bitcoin",
            "interval_type": "1h",
            "candles": 5,
            "first": first,
            "last": first,
            "sources": ["binance"],
        },
        {
            "binance_symbol": "ETHUSDT",
            "base": "ETH",
            "name": "Ethereum",
            "interval_type": None,
            "candles": None,
            "first": None,
            "last": None,
            "sources": None,
        },
    ]
    body = json.loads(symbols_body(rows))
    btc, eth = body["symbols"]
    assert btc["source"] == "binance+simulated"
    assert btc["intervals"]["1h"] == {
        "candles": 5,
        "first": "2024-01-01T00:00:00Z",
        "last": "2024-01-01T00:00:00Z",
        "source": "binance",
    }
    assert eth == {
        "symbol": "ETHUSDT",
        "base": "ETH",
        "name": "Ethereum",
        "source": None,
        "intervals": {},
    }
