"""Simulated bars: deterministic, on sessions only, no open in Helsinki."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ticktide_ingest_stocks.calendar import sessions_between
from ticktide_ingest_stocks.simulated import simulated_bar, simulated_bars


def test_deterministic_and_independent_of_the_range() -> None:
    whole = simulated_bars("AAPL", "NASDAQ", date(2024, 6, 1), date(2024, 8, 1))
    part = simulated_bars("AAPL", "NASDAQ", date(2024, 7, 1), date(2024, 7, 15))
    assert [b for b in whole if date(2024, 7, 1) <= b.date < date(2024, 7, 15)] == part
    assert [b.date for b in whole] == sessions_between("NASDAQ", date(2024, 6, 1), date(2024, 8, 1))
    assert date(2024, 7, 4) not in [b.date for b in whole]
    assert simulated_bar("MSFT", "NASDAQ", date(2024, 7, 1)) != whole[0]


def test_bars_are_consistent() -> None:
    for bar in simulated_bars("NOKIA", "OMXH", date(2024, 1, 1), date(2024, 12, 31)):
        assert bar.o is None
        assert Decimal(bar.l) <= Decimal(bar.c) <= Decimal(bar.h)
        assert Decimal(bar.l) > 0 and int(bar.v) > 0
    for bar in simulated_bars("AAPL", "NASDAQ", date(2024, 1, 1), date(2024, 3, 1)):
        assert bar.o is not None
        assert Decimal(bar.l) <= min(Decimal(bar.o), Decimal(bar.c))
        assert Decimal(bar.h) >= max(Decimal(bar.o), Decimal(bar.c))
