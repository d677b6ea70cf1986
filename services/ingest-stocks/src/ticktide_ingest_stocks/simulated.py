"""The deterministic simulated daily bars of the contract (pure).

Used when the provider is unreachable and `TICKTIDE_SIMULATED_FALLBACK=1`. A bar
is a function of (symbol, session date) only, never of the requested range, so
overlapping requests agree digit for digit; only sessions of the exchange's
calendar get bars. The close follows slow waves whose phases come from a hash
of the symbol. Helsinki bars have no open (`o=None`), like the real source.
Rows are labelled `simulated` by their producer.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from ticktide_common.messages import StockBarV1, StockExchange
from ticktide_ingest_stocks.calendar import sessions_between

__all__ = ["SIMULATED_SOURCE", "simulated_bar", "simulated_bars"]

SIMULATED_SOURCE = "simulated"
# (period in days, amplitude as a fraction of the base price)
_WAVES = ((211.0, 0.18), (47.0, 0.07), (11.3, 0.03), (3.1, 0.012))


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) derived from `parts` (stable across processes)."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# Rough price levels of the seeded symbols, so that simulated charts look like
# the market they stand in for; other symbols get a level from their hash.
_LEVELS = {
    "AAPL": 190.0,
    "MSFT": 420.0,
    "NVDA": 120.0,
    "GOOGL": 170.0,
    "AMZN": 185.0,
    "NOKIA": 4.2,
    "NDA-FI": 11.5,
    "KNEBV": 48.0,
    "SAMPO": 9.0,
    "UPM": 27.0,
}


def _base(symbol: str) -> float:
    return _LEVELS.get(symbol) or 20.0 + 480.0 * _unit("stock-base", symbol)


def _price(symbol: str, day_number: float) -> float:
    level = 1.0
    for index, (period, amplitude) in enumerate(_WAVES):
        phase = _unit("stock-phase", symbol, index) * 2 * math.pi
        level += amplitude * math.sin(2 * math.pi * day_number / period + phase)
    return _base(symbol) * level


def _text(value: float, places: int) -> str:
    quantum = Decimal(1).scaleb(-places)
    return str(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_EVEN))


def simulated_bar(symbol: str, exchange: StockExchange, day: date) -> StockBarV1:
    """The simulated bar of `symbol` on session `day`."""
    number = float(day.toordinal())
    open_price, close_price = _price(symbol, number - 0.6), _price(symbol, number)
    spread = 0.01 + 0.015 * _unit("stock-range", symbol, day)
    high = max(open_price, close_price) * (1 + spread * _unit("stock-high", symbol, day))
    low = min(open_price, close_price) * (1 - spread * _unit("stock-low", symbol, day))
    places = 2 if _base(symbol) >= 10 else 4  # cheap shares are quoted finer
    o, c = _text(open_price, places), _text(close_price, places)
    h = max(_text(high, places), o, c, key=Decimal)
    low_text = min(_text(low, places), o, c, key=Decimal)
    scale = 20_000_000 if exchange == "NASDAQ" else 2_000_000
    volume = int(scale * (0.3 + _unit("stock-volume", symbol, day)))
    return StockBarV1(
        date=day,
        o=o if exchange == "NASDAQ" else None,
        h=h,
        l=low_text,
        c=c,
        v=str(volume),
    )


def simulated_bars(
    symbol: str, exchange: StockExchange, start: date, end: date
) -> list[StockBarV1]:
    """A simulated bar for every session with `start <= day < end`."""
    return [simulated_bar(symbol, exchange, day) for day in sessions_between(exchange, start, end)]
