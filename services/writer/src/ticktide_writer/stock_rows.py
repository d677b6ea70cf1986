"""The pure side of persisting stock bars: the row a stock gets when the writer
meets an unknown symbol, the column arrays one `stock_prices` upsert takes
(one bar per trading day, in date order, decimal strings untouched) and the
stored event. No I/O here, so it tests without servers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ticktide_common.messages import (
    StockBarV1,
    StockExchange,
    StockPricesStoredV1,
    StockPricesV1,
)

__all__ = [
    "CURRENCY_BY_EXCHANGE",
    "NewStock",
    "StockPriceColumns",
    "new_stock",
    "session_start",
    "unique_bars",
    "price_columns",
    "stock_stored_event",
]

CURRENCY_BY_EXCHANGE: dict[str, str] = {"NASDAQ": "USD", "OMXH": "EUR"}


@dataclass(frozen=True)
class NewStock:
    """The `stocks` row of a symbol nobody configured (the ingester sent it)."""

    symbol: str
    name: str
    exchange: str
    currency: str
    provider_symbol: str


def new_stock(symbol: str, exchange: StockExchange) -> NewStock:
    """An unknown symbol is its own name and provider symbol; the currency is
    the exchange's (USD on NASDAQ, EUR in Helsinki)."""
    return NewStock(symbol, symbol, exchange, CURRENCY_BY_EXCHANGE[exchange], symbol)


def session_start(day: date) -> datetime:
    """`stock_prices.datetime` of a trading day: the date at 00:00 UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def unique_bars(bars: Sequence[StockBarV1]) -> list[StockBarV1]:
    """One bar per date (the last one sent wins), in date order: one upsert
    cannot touch a row twice, and a fixed order keeps concurrent writers of
    the same stock from deadlocking on each other's rows."""
    by_date = {bar.date: bar for bar in bars}
    return [by_date[day] for day in sorted(by_date)]


@dataclass(frozen=True)
class StockPriceColumns:
    """The bars of one batch as parallel arrays (`unnest` takes them in one statement)."""

    datetimes: list[datetime]
    opens: list[str | None]
    highs: list[str]
    lows: list[str]
    closes: list[str]
    volumes: list[str]
    averages: list[str | None]
    turnovers: list[str | None]

    def __len__(self) -> int:
        return len(self.datetimes)


def price_columns(bars: Sequence[StockBarV1]) -> StockPriceColumns:
    """The unique bars of a batch as columns; prices stay the sent decimal strings."""
    rows = unique_bars(bars)
    return StockPriceColumns(
        datetimes=[session_start(bar.date) for bar in rows],
        opens=[bar.o for bar in rows],
        highs=[bar.h for bar in rows],
        lows=[bar.l for bar in rows],
        closes=[bar.c for bar in rows],
        volumes=[bar.v for bar in rows],
        averages=[bar.average for bar in rows],
        turnovers=[bar.turnover for bar in rows],
    )


def stock_stored_event(batch: StockPricesV1, rows_changed: int) -> StockPricesStoredV1:
    """The event that says a batch is durable. A duplicate delivery reports 0
    rows changed but is still announced, so a job whose completion was lost in
    a crash between commit and publish still finishes."""
    days = [bar.date for bar in batch.bars]
    return StockPricesStoredV1(
        batch_id=batch.batch_id,
        job_id=batch.job_id,
        symbol=batch.symbol,
        exchange=batch.exchange,
        source=batch.source,
        first_date=min(days, default=None),
        last_date=max(days, default=None),
        bars=len(batch.bars),
        rows_changed=rows_changed,
    )
