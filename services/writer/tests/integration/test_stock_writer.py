"""Stock bars with the real writer, PostgreSQL and RabbitMQ: `stocks.prices.v1`
ends up in `stock_prices` digit for digit (open NULL where Nasdaq Nordic has
none), once, announced after the commit; simulated bars never replace real
ones while real ones replace simulated; a message that can never be stored
is dead-lettered while the writer keeps consuming."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest

from ticktide_common.errors import PublishError
from ticktide_common.messages import StockBarV1, StockPricesStoredV1, StockPricesV1
from ticktide_common.testing.events import EventProbe
from ticktide_common.testing.processes import wait_until
from ticktide_common.topology import WRITER_STOCKS
from ticktide_writer.stock_writer import StockWriter
from ticktide_writer.stocks_repository import StocksRepository

from .conftest import IsolatedWriter

pytestmark = pytest.mark.integration

Probe = EventProbe[StockPricesStoredV1]


@pytest.fixture
async def stored(isolated_writer: IsolatedWriter) -> AsyncIterator[Probe]:
    writer = isolated_writer
    async with EventProbe(writer.settings.amqp_url, writer.topology, StockPricesStoredV1) as probe:
        yield probe


def new_symbol(suffix: str = "") -> str:
    return f"TT{uuid.uuid4().hex[:8].upper()}{suffix}"


def bar(day: int, c: str = "189.8400", o: str | None = "187.1500", **extra: str) -> StockBarV1:
    return StockBarV1.model_validate(
        {
            "date": date(2024, 5, day),
            "o": o,
            "h": "190.0500",
            "l": "186.0100",
            "c": c,
            "v": "53068020",
            **extra,
        }
    )


def prices(
    symbol: str, bars: list[StockBarV1], source: str = "nasdaq", exchange: str = "NASDAQ"
) -> StockPricesV1:
    return StockPricesV1.model_validate(
        {
            "batch_id": uuid.uuid4(),
            "job_id": uuid.uuid4(),
            "symbol": symbol,
            "exchange": exchange,
            "source": source,
            "bars": bars,
        }
    )


async def publish_and_wait(
    writer: IsolatedWriter, probe: Probe, message: StockPricesV1, count: int = 1
) -> StockPricesStoredV1:
    await writer.bus.publish(message)
    events = await probe.wait_for(lambda e: e.batch_id == message.batch_id, count=count)
    return events[-1]


async def stored_rows(pool: asyncpg.Pool, symbol: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT p.datetime, p.open_price::text AS o, p.high_price::text AS h,
                  p.low_price::text AS l, p.close_price::text AS c, p.volume::text AS v,
                  p.average_price::text AS average, p.turnover::text AS turnover, p.source
           FROM stock_prices p JOIN stocks s ON s.id = p.stock_id
           WHERE s.symbol = $1 ORDER BY p.datetime""",
        symbol,
    )


def as_tuples(rows: list[asyncpg.Record]) -> list[tuple[object, ...]]:
    return [
        (r["datetime"], r["o"], r["h"], r["l"], r["c"], r["v"], r["average"], r["turnover"])
        for r in rows
    ]


def expected(bars: list[StockBarV1]) -> list[tuple[object, ...]]:
    return [
        (
            datetime(b.date.year, b.date.month, b.date.day, tzinfo=UTC),
            b.o,
            b.h,
            b.l,
            b.c,
            b.v,
            b.average,
            b.turnover,
        )
        for b in bars
    ]


async def test_nasdaq_bars_are_stored_digit_for_digit_and_announced(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    symbol = new_symbol()
    bars = [
        bar(1),
        bar(2, o="0.0001", c="0.00012345678901234567"),
        bar(3, o="123456789012.123456789012", c="1.10", v="0"),
    ]
    message = prices(symbol, bars)
    event = await publish_and_wait(isolated_writer, stored, message)

    assert as_tuples(await stored_rows(db_pool, symbol)) == expected(bars)
    assert (event.bars, event.rows_changed) == (3, 3)
    assert (event.first_date, event.last_date) == (date(2024, 5, 1), date(2024, 5, 3))
    assert (event.symbol, event.exchange, event.source, event.job_id) == (
        symbol,
        "NASDAQ",
        "nasdaq",
        message.job_id,
    )
    stock = await db_pool.fetchrow(
        "SELECT name, exchange, currency, provider_symbol FROM stocks WHERE symbol = $1", symbol
    )
    assert dict(stock) == {
        "name": symbol,
        "exchange": "NASDAQ",
        "currency": "USD",
        "provider_symbol": symbol,
    }
    recorded = await db_pool.fetchrow(
        "SELECT job_id, candles FROM ingest_batches WHERE batch_id = $1", message.batch_id
    )
    assert (recorded["job_id"], recorded["candles"]) == (message.job_id, 3)


async def test_nordic_bar_keeps_a_null_open_and_its_average_and_turnover(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    symbol = new_symbol("-FI")
    bars = [
        bar(2, o=None, c="3.4990", average="3.481", turnover="42975311.22"),
        bar(3, o=None, c="3.5120", average="3.50", turnover="1000000.00"),
    ]
    event = await publish_and_wait(
        isolated_writer, stored, prices(symbol, bars, source="nasdaq-nordic", exchange="OMXH")
    )

    rows = await stored_rows(db_pool, symbol)
    assert as_tuples(rows) == expected(bars)
    assert [r["o"] for r in rows] == [None, None]
    assert {r["source"] for r in rows} == {"nasdaq-nordic"}
    assert (event.exchange, event.rows_changed) == ("OMXH", 2)
    currency = await db_pool.fetchval("SELECT currency FROM stocks WHERE symbol = $1", symbol)
    assert currency == "EUR"


async def test_same_message_twice_is_one_copy_and_announced_twice(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    symbol = new_symbol()
    message = prices(symbol, [bar(1), bar(2)])
    first = await publish_and_wait(isolated_writer, stored, message)
    second = await publish_and_wait(isolated_writer, stored, message, count=2)

    assert (first.rows_changed, second.rows_changed) == (2, 0)
    assert len(await stored_rows(db_pool, symbol)) == 2
    claimed = await db_pool.fetchval(
        "SELECT count(*) FROM ingest_batches WHERE batch_id = $1", message.batch_id
    )
    assert claimed == 1

    # The same bars again in a new batch change nothing either.
    again = await publish_and_wait(isolated_writer, stored, prices(symbol, [bar(1), bar(2)]))
    assert again.rows_changed == 0


async def test_simulated_never_overwrites_real_but_real_overwrites_simulated(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    symbol = new_symbol()
    real = [bar(1), bar(2)]
    await publish_and_wait(isolated_writer, stored, prices(symbol, real))
    fake = [bar(1, c="1.00"), bar(2, c="2.00"), bar(3, c="3.00")]
    event = await publish_and_wait(isolated_writer, stored, prices(symbol, fake, "simulated"))

    rows = await stored_rows(db_pool, symbol)
    assert as_tuples(rows) == expected([*real, fake[2]])
    assert [r["source"] for r in rows] == ["nasdaq", "nasdaq", "simulated"]
    assert event.rows_changed == 1

    refilled = bar(3, c="191.2500")
    event = await publish_and_wait(isolated_writer, stored, prices(symbol, [refilled]))
    rows = await stored_rows(db_pool, symbol)
    assert as_tuples(rows) == expected([*real, refilled])
    assert rows[2]["source"] == "nasdaq"
    assert event.rows_changed == 1


async def test_unstorable_messages_are_dead_lettered_and_consuming_goes_on(
    isolated_writer: IsolatedWriter, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    writer = isolated_writer
    key = StockPricesV1.routing_key
    await writer.publish_raw(b"\xff not json", key)
    await writer.publish_raw(b'{"batch_id": "not-a-uuid", "bars": 7}', key)
    # Valid by schema, refused by PostgreSQL: numeric cannot hold 10^999999.
    overflow = prices(new_symbol(), [bar(1, c="1e999999")])
    await writer.bus.publish(overflow)
    # A symbol listed on the other exchange would mix two series.
    await writer.bus.publish(prices("AAPL", [bar(1)], "nasdaq-nordic", "OMXH"))

    async def dead_lettered() -> bool:
        return await writer.dlq_depth(WRITER_STOCKS) >= 4

    await wait_until(dead_lettered, timeout=20, what="four bad messages in writer.stocks.dlq")
    good_symbol = new_symbol()
    await publish_and_wait(writer, stored, prices(good_symbol, [bar(1)]))
    assert as_tuples(await stored_rows(db_pool, good_symbol)) == expected([bar(1)])
    assert await stored_rows(db_pool, overflow.symbol) == []
    assert not await db_pool.fetchval(
        "SELECT count(*) FROM ingest_batches WHERE batch_id = $1", overflow.batch_id
    )

    transport = httpx.ASGITransport(app=writer.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://writer") as client:
        metrics = (await client.get("/metrics")).text
    assert 'ticktide_writer_series_batches_total{domain="stocks",outcome="failed"}' in metrics
    assert 'ticktide_writer_series_batches_total{domain="stocks",outcome="stored"}' in metrics


async def test_stored_event_is_published_after_commit_and_retried_until_it_is(
    db_pool: asyncpg.Pool,
) -> None:
    """A publish that fails leaves the rows committed and raises (the bus
    retries); the retry is a duplicate that stores nothing and announces."""
    symbol = new_symbol()
    message = prices(symbol, [bar(1), bar(2)])
    seen: list[tuple[StockPricesStoredV1, int, int]] = []

    async def publish(event: StockPricesStoredV1) -> None:
        # What another connection sees at publish time: the commit is done.
        rows = len(await stored_rows(db_pool, symbol))
        claimed = await db_pool.fetchval(
            "SELECT count(*) FROM ingest_batches WHERE batch_id = $1", event.batch_id
        )
        seen.append((event, rows, claimed))
        if len(seen) == 1:
            raise PublishError("broker away")

    writer = StockWriter(StocksRepository(db_pool), publish)
    with pytest.raises(PublishError):
        await writer.handle(message)
    await writer.handle(message)  # the redelivery

    assert [(e.rows_changed, rows, claimed) for e, rows, claimed in seen] == [(2, 2, 1), (0, 2, 1)]
    assert as_tuples(await stored_rows(db_pool, symbol)) == expected([bar(1), bar(2)])
    await writer.stop()


async def test_empty_batch_is_recorded_and_announced(db_pool: asyncpg.Pool) -> None:
    """A page without bars (a holiday week) still completes its part of a job."""
    announced: list[StockPricesStoredV1] = []

    async def publish(event: StockPricesStoredV1) -> None:
        announced.append(event)

    message = prices(new_symbol(), [])
    writer = StockWriter(StocksRepository(db_pool), publish)
    await writer.handle(message)
    await writer.stop()
    assert [(e.bars, e.rows_changed, e.first_date) for e in announced] == [(0, 0, None)]
    claimed = await db_pool.fetchval(
        "SELECT candles FROM ingest_batches WHERE batch_id = $1", message.batch_id
    )
    assert claimed == 0
