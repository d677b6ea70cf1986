"""Unit tests of the JSON bodies: digits survive, times end in Z, sources are labelled.
(Prices answers: test_price_pieces.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ticktide_gateway.crypto.bodies import symbols_body
from ticktide_gateway.serialization import source_label


def test_source_label() -> None:
    assert source_label([]) is None
    assert source_label(["binance", "binance"]) == "binance"
    assert source_label(["simulated", "binance", "simulated"]) == "binance+simulated"


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
