"""The simulated source: deterministic per (symbol, interval, t), plausible bars."""

from __future__ import annotations

from decimal import Decimal

from ticktide_ingest_crypto.gaps import datetime_to_ms
from ticktide_ingest_crypto.simulated import simulated_candle, simulated_candles

START = 1704067200000  # 2024-01-01
HOUR = 3_600_000


def test_same_inputs_same_strings() -> None:
    first = simulated_candles("BTCUSDT", "1h", START, START + 48 * HOUR)
    again = simulated_candles("BTCUSDT", "1h", START, START + 48 * HOUR)
    assert first == again
    assert len(first) == 48


def test_a_function_of_t_not_of_the_range() -> None:
    wide = simulated_candles("ETHUSDT", "1h", START, START + 100 * HOUR)
    narrow = simulated_candles("ETHUSDT", "1h", START + 40 * HOUR, START + 60 * HOUR)
    assert wide[40:60] == narrow


def test_different_symbols_differ() -> None:
    a = simulated_candles("ABCUSDT", "4h", START, START + 40 * HOUR)
    b = simulated_candles("XYZUSDT", "4h", START, START + 40 * HOUR)
    assert [c.c for c in a] != [c.c for c in b]


def test_bars_are_plausible_and_continuous() -> None:
    for symbol, interval in (("BTCUSDT", "1h"), ("XRPUSDT", "1d"), ("QQQUSDT", "4h")):
        bars = simulated_candles(symbol, interval, START, START + 400 * 86_400_000)
        for bar in bars:
            o, h, low, c, v = (Decimal(x) for x in (bar.o, bar.h, bar.l, bar.c, bar.v))
            assert h >= max(o, c) and low <= min(o, c) and low > 0 and v > 0, bar
        for previous, current in zip(bars, bars[1:], strict=False):
            assert previous.c == current.o


def test_open_time_is_the_slot() -> None:
    bar = simulated_candle("BTCUSDT", "1d", START + 86_400_000)
    assert datetime_to_ms(bar.t) == START + 86_400_000
    assert 20_000 < float(bar.c) < 120_000
