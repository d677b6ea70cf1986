"""The deterministic simulated candle source of the contract (pure).

Used when Binance is unreachable and `TICKTIDE_SIMULATED_FALLBACK=1`. A candle
is a function of (symbol, interval, open time) only, never of the requested
range, so overlapping requests agree digit for digit. The price path is a sum
of slow waves whose phases come from a hash of the symbol (different symbols
differ), and a bar opens where the previous one closed. Rows are labelled
`simulated` by their producer.
"""

from __future__ import annotations

import hashlib
import math
from decimal import ROUND_HALF_EVEN, Decimal

from ticktide_common.messages import CandleV1
from ticktide_ingest_crypto.gaps import interval_ms, ms_to_datetime, slot_times

__all__ = ["SIMULATED_SOURCE", "base_price", "simulated_candle", "simulated_candles"]

SIMULATED_SOURCE = "simulated"

_KNOWN_BASES = {"BTC": 60000.0, "ETH": 3000.0, "BNB": 550.0, "SOL": 150.0, "XRP": 0.6, "ADA": 0.45}
_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "BTC", "ETH", "BNB", "EUR", "TRY")
# (period in days, amplitude as a fraction of the base price)
_WAVES = ((173.0, 0.22), (41.0, 0.09), (9.3, 0.04), (1.7, 0.015), (0.29, 0.006))


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) derived from `parts` (stable across processes)."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def base_price(symbol: str) -> float:
    """A plausible price level for the pair's base asset."""
    base = symbol
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote):
            base = symbol[: -len(quote)]
            break
    if base in _KNOWN_BASES:
        return _KNOWN_BASES[base]
    return 10 ** (_unit("base", symbol) * 5 - 1)  # between 0.1 and 10_000


def _price(symbol: str, moment_ms: int) -> float:
    days = moment_ms / 86_400_000
    level = 1.0
    for index, (period, amplitude) in enumerate(_WAVES):
        phase = _unit("phase", symbol, index) * 2 * math.pi
        level += amplitude * math.sin(2 * math.pi * days / period + phase)
    return base_price(symbol) * level


def _places(price: float) -> int:
    """Decimal places like an exchange's tick size: fewer for larger prices."""
    if price >= 1000:
        return 2
    if price >= 10:
        return 3
    if price >= 1:
        return 4
    return 6


def _decimal(value: float, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_EVEN))


def simulated_candle(symbol: str, interval: str, open_ms: int) -> CandleV1:
    """The simulated bar of `symbol`/`interval` that opens at `open_ms`."""
    size = interval_ms(interval)
    open_price = _price(symbol, open_ms)
    close_price = _price(symbol, open_ms + size)
    places = _places(base_price(symbol))
    wick = 0.002 * math.sqrt(size / 3_600_000)
    high = max(open_price, close_price) * (1 + wick * _unit("high", symbol, interval, open_ms))
    low = min(open_price, close_price) * (1 - wick * _unit("low", symbol, interval, open_ms))
    volume = (1 + 4 * _unit("volume", symbol, interval, open_ms)) * size / 3_600_000
    volume *= 1_000_000 / base_price(symbol)
    o, c = _decimal(open_price, places), _decimal(close_price, places)
    # Round the wicks outwards so that h >= max(o, c) and l <= min(o, c) after rounding.
    h = max(_decimal(high, places), o, c, key=Decimal)
    low_text = min(_decimal(low, places), o, c, key=Decimal)
    if Decimal(low_text) <= 0:
        low_text = str(Decimal(1).scaleb(-places))
    return CandleV1(
        t=ms_to_datetime(open_ms), o=o, h=h, l=low_text, c=c, v=_decimal(max(volume, 0.001), 3)
    )


def simulated_candles(symbol: str, interval: str, start_ms: int, end_ms: int) -> list[CandleV1]:
    """Every simulated bar with an open time in `[start_ms, end_ms)`."""
    return [
        simulated_candle(symbol, interval, moment)
        for moment in slot_times(start_ms, end_ms, interval)
    ]
