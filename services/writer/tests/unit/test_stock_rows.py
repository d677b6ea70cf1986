"""Stock bars as `stock_prices` columns: decimal strings untouched, one bar per
date in date order, the date at 00:00 UTC, and the currency of a new stock."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from ticktide_common.messages import StockBarV1, StockPricesV1
from ticktide_writer.stock_rows import (
    new_stock,
    price_columns,
    session_start,
    stock_stored_event,
    unique_bars,
)


def bar(day: int, c: str = "189.8400", o: str | None = "187.1500") -> StockBarV1:
    return StockBarV1(date=date(2024, 5, day), o=o, h="190.0000", l="186.0100", c=c, v="53068020")


def test_session_start_is_midnight_utc() -> None:
    assert session_start(date(2024, 5, 3)) == datetime(2024, 5, 3, tzinfo=UTC)


def test_unique_bars_keeps_the_last_per_date_in_date_order() -> None:
    bars = [bar(3), bar(1), bar(3, c="1.5"), bar(2)]
    assert [(b.date.day, b.c) for b in unique_bars(bars)] == [
        (1, "189.8400"),
        (2, "189.8400"),
        (3, "1.5"),
    ]


def test_columns_keep_the_strings_and_a_missing_open() -> None:
    nordic = StockBarV1(
        date=date(2024, 5, 2),
        o=None,
        h="3.5150",
        l="3.4420",
        c="3.4990",
        v="12345678",
        average="3.481",
        turnover="42975311.22",
    )
    columns = price_columns([bar(3), nordic])
    assert len(columns) == 2
    assert columns.datetimes == [datetime(2024, 5, 2, tzinfo=UTC), datetime(2024, 5, 3, tzinfo=UTC)]
    assert columns.opens == [None, "187.1500"]
    assert columns.highs == ["3.5150", "190.0000"]
    assert columns.closes == ["3.4990", "189.8400"]
    assert columns.volumes == ["12345678", "53068020"]
    assert columns.averages == ["3.481", None]
    assert columns.turnovers == ["42975311.22", None]


@pytest.mark.parametrize(("exchange", "currency"), [("NASDAQ", "USD"), ("OMXH", "EUR")])
def test_new_stock_takes_the_currency_of_its_exchange(exchange: str, currency: str) -> None:
    stock = new_stock("TTNEW", exchange)  # type: ignore[arg-type]
    assert (stock.symbol, stock.name, stock.exchange, stock.currency, stock.provider_symbol) == (
        "TTNEW",
        "TTNEW",
        exchange,
        currency,
        "TTNEW",
    )


def test_stored_event_spans_the_batch() -> None:
    message = StockPricesV1(
        batch_id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        symbol="AAPL",
        exchange="NASDAQ",
        source="nasdaq",
        bars=[bar(3), bar(1), bar(3)],
    )
    event = stock_stored_event(message, 2)
    assert (event.batch_id, event.job_id, event.symbol, event.exchange, event.source) == (
        message.batch_id,
        message.job_id,
        "AAPL",
        "NASDAQ",
        "nasdaq",
    )
    assert (event.first_date, event.last_date, event.bars, event.rows_changed) == (
        date(2024, 5, 1),
        date(2024, 5, 3),
        3,
        2,
    )


def test_stored_event_of_an_empty_batch_has_no_span() -> None:
    message = StockPricesV1(
        batch_id=uuid.uuid4(), symbol="NOKIA", exchange="OMXH", source="nasdaq-nordic", bars=[]
    )
    event = stock_stored_event(message, 0)
    assert (event.first_date, event.last_date, event.bars) == (None, None, 0)
