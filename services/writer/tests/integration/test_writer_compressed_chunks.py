"""The writer's paths into compressed TimescaleDB chunks of `crypto_prices`,
against the real server and bus: a fresh COPY into a compressed range, an
overlapping upsert (ON CONFLICT on compressed rows), a redelivered batch and a
batch of new id with the same content, and simulated data against real rows.
Each test stores rows, compresses the chunks that hold them, then writes again.
Skipped, after asking the database, where TimescaleDB is not installed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from fastapi import FastAPI

from ticktide_common.bus import Bus
from ticktide_common.candle_json import candle_json_sql
from ticktide_common.messages import (
    CandleBatchV1,
    CandlesStoredV1,
    CandleV1,
    StockBarV1,
    WeatherObservationV1,
)
from ticktide_common.testing.events import EventProbe
from ticktide_common.topology import Topology
from ticktide_writer.app import create_app
from ticktide_writer.candle_batches import DeliveredBatch
from ticktide_writer.candle_writer import _classify
from ticktide_writer.repository import WriterRepository
from ticktide_writer.service import copy_text
from ticktide_writer.settings import WriterSettings
from ticktide_writer.stock_rows import new_stock, price_columns
from ticktide_writer.stocks_repository import StocksRepository
from ticktide_writer.weather_repository import WeatherRepository
from ticktide_writer.weather_rows import weather_columns

pytestmark = pytest.mark.integration

Probe = EventProbe[CandlesStoredV1]


@pytest.fixture(scope="module")
async def timescaledb(db_pool: asyncpg.Pool) -> None:
    installed = await db_pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
    )
    if not installed:
        pytest.skip("TimescaleDB is not installed in the test database: no compressed chunks")


@pytest.fixture(scope="module")
async def writer(timescaledb: None, settings: WriterSettings, bus: Bus) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def stored(
    writer: FastAPI, settings: WriterSettings, topology: Topology, bus: Bus
) -> AsyncIterator[Probe]:
    async with EventProbe(settings.amqp_url, topology, CandlesStoredV1) as probe:
        yield probe


@pytest.fixture
def t0() -> datetime:
    """A range of this test's own, long past every policy's threshold (its own chunk:
    crypto_prices' chunks span 30 days)."""
    return datetime(2017, 1, 1, tzinfo=UTC) + timedelta(days=40 * (uuid.uuid4().int % 60))


def candle(t0: datetime, hour: int, c: str = "42100.99000000") -> CandleV1:
    return CandleV1(
        t=t0 + timedelta(hours=hour),
        o="42000.01000000",
        h="42500.00000000",
        l="41900.50000000",
        c=c,
        v="1234.56789000",
    )


def batch(symbol: str, candles: list[CandleV1], source: str = "binance") -> CandleBatchV1:
    return CandleBatchV1(
        batch_id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        symbol=symbol,
        interval="1h",
        source=source,  # type: ignore[arg-type]
        candles=candles,
    )


def symbol() -> str:
    return f"TTZ{uuid.uuid4().hex[:6].upper()}USDT"


async def publish_and_wait(
    bus: Bus, probe: Probe, message: CandleBatchV1, count: int = 1
) -> CandlesStoredV1:
    await bus.publish(message)
    events = await probe.wait_for(lambda e: e.batch_id == message.batch_id, count=count)
    return events[-1]


async def compress_range(pool: asyncpg.Pool, first: datetime, last: datetime) -> int:
    """Compress every chunk of crypto_prices that holds [first, last]; how many
    chunks of that range are compressed afterwards."""
    return await compress_table_range(pool, "crypto_prices", first, last)


async def compress_table_range(
    pool: asyncpg.Pool, table: str, first: datetime, last: datetime
) -> int:
    chunks = await pool.fetch(
        """SELECT format('%I.%I', chunk_schema, chunk_name) AS chunk
           FROM timescaledb_information.chunks
           WHERE hypertable_name = $3 AND range_start <= $2 AND range_end > $1""",
        first,
        last,
        table,
    )
    assert chunks, "no chunk holds the range"
    for row in chunks:
        await pool.execute(
            "SELECT compress_chunk($1::regclass, if_not_compressed => true)", row["chunk"]
        )
    return int(
        await pool.fetchval(
            """SELECT count(*) FROM timescaledb_information.chunks
               WHERE hypertable_name = $3 AND is_compressed
                 AND range_start <= $2 AND range_end > $1""",
            first,
            last,
            table,
        )
    )


async def rows_of(pool: asyncpg.Pool, pair: str) -> list[tuple[object, ...]]:
    rows = await pool.fetch(
        f"""SELECT p.datetime, p.close_price::text AS c, p.source,
                   p.candle_json = {candle_json_sql("p")} AS json_matches
            FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
            WHERE c.binance_symbol = $1 AND p.interval_type = '1h'
            ORDER BY p.datetime""",  # noqa: S608 - constant SQL
        pair,
    )
    assert all(r["json_matches"] for r in rows), [dict(r) for r in rows]
    return [(r["datetime"], r["c"], r["source"]) for r in rows]


async def test_fresh_copy_into_a_compressed_range(
    bus: Bus, stored: Probe, db_pool: asyncpg.Pool, t0: datetime
) -> None:
    pair = symbol()
    first = [candle(t0, h) for h in range(3)]
    await publish_and_wait(bus, stored, batch(pair, first))
    assert await compress_range(db_pool, t0, t0 + timedelta(hours=12)) == 1

    later = [candle(t0, h, c=f"{h}.50000000") for h in (10, 11, 12)]
    event = await publish_and_wait(bus, stored, batch(pair, later))  # no overlap: COPY
    assert event.rows_changed == 3
    assert await rows_of(db_pool, pair) == [
        *[(c.t, c.c, "binance") for c in first],
        *[(c.t, c.c, "binance") for c in later],
    ]


async def test_overlapping_upsert_on_compressed_rows(
    bus: Bus, stored: Probe, db_pool: asyncpg.Pool, t0: datetime
) -> None:
    pair = symbol()
    await publish_and_wait(bus, stored, batch(pair, [candle(t0, h) for h in range(3)]))
    assert await compress_range(db_pool, t0, t0 + timedelta(hours=3)) == 1

    closed = candle(t0, 1, c="42599.12000000")
    overlapping = [candle(t0, 0), closed, candle(t0, 3)]  # same, changed, new
    event = await publish_and_wait(bus, stored, batch(pair, overlapping))
    assert event.rows_changed == 2
    assert await rows_of(db_pool, pair) == [
        (t0, "42100.99000000", "binance"),
        (closed.t, "42599.12000000", "binance"),
        (t0 + timedelta(hours=2), "42100.99000000", "binance"),
        (t0 + timedelta(hours=3), "42100.99000000", "binance"),
    ]

    assert await compress_range(db_pool, t0, t0 + timedelta(hours=3)) == 1
    same_again = await publish_and_wait(bus, stored, batch(pair, overlapping))  # a new id
    assert same_again.rows_changed == 0


async def test_redelivered_batch_into_compressed_rows_is_stored_once(
    bus: Bus, stored: Probe, db_pool: asyncpg.Pool, t0: datetime
) -> None:
    pair = symbol()
    message = batch(pair, [candle(t0, h) for h in range(4)])
    first = await publish_and_wait(bus, stored, message)
    before = await rows_of(db_pool, pair)
    assert await compress_range(db_pool, t0, t0 + timedelta(hours=4)) == 1

    again = await publish_and_wait(bus, stored, message, count=2)
    assert (first.rows_changed, again.rows_changed) == (4, 0)
    assert await rows_of(db_pool, pair) == before
    assert (
        await db_pool.fetchval(
            "SELECT count(*) FROM ingest_batches WHERE batch_id = $1", message.batch_id
        )
        == 1
    )


async def test_simulated_never_overwrites_compressed_real_rows(
    bus: Bus, stored: Probe, db_pool: asyncpg.Pool, t0: datetime
) -> None:
    pair = symbol()
    real = [candle(t0, 0), candle(t0, 1)]
    await publish_and_wait(bus, stored, batch(pair, real))
    assert await compress_range(db_pool, t0, t0 + timedelta(hours=2)) == 1

    fake = [candle(t0, h, c=f"{h + 1}.00000000") for h in range(3)]
    event = await publish_and_wait(bus, stored, batch(pair, fake, source="simulated"))
    assert event.rows_changed == 1
    assert await rows_of(db_pool, pair) == [
        (real[0].t, real[0].c, "binance"),
        (real[1].t, real[1].c, "binance"),
        (fake[2].t, "3.00000000", "simulated"),
    ]

    assert await compress_range(db_pool, t0, t0 + timedelta(hours=2)) == 1
    refilled = candle(t0, 2, c="42222.22000000")
    replaced = await publish_and_wait(
        bus, stored, batch(pair, [refilled], source="binance-archive")
    )
    assert replaced.rows_changed == 1
    assert (await rows_of(db_pool, pair))[2] == (refilled.t, "42222.22000000", "binance-archive")


async def test_a_fresh_copy_racing_a_compressed_row_is_a_unique_violation(
    timescaledb: None, db_pool: asyncpg.Pool, t0: datetime
) -> None:
    """Another writer stored a row of a "fresh" batch first and the chunk was
    compressed since: COPY into the compressed chunk must fail as a unique
    violation, the one error the writer retries (and then merges), not store
    the row twice or fail as something it would dead-letter."""
    pair = symbol()
    crypto_id = await db_pool.fetchval(
        "INSERT INTO cryptocurrencies (symbol, name, binance_symbol) VALUES ($1, $1, $1)"
        " RETURNING id",
        pair,
    )
    message = batch(pair, [candle(t0, 0), candle(t0, 1)])
    rendered = copy_text(int(crypto_id), DeliveredBatch.from_message(message))
    assert rendered is not None
    repository = WriterRepository(db_pool)
    async with repository.write_transaction() as transaction:
        assert await transaction.copy_fresh(rendered[0]) == 2
    assert await compress_range(db_pool, t0, t0 + timedelta(hours=1)) == 1

    with pytest.raises(asyncpg.UniqueViolationError) as raised:
        async with repository.write_transaction() as transaction:
            await transaction.copy_fresh(rendered[0])
    assert _classify(raised.value) is raised.value  # retried, not dead-lettered
    assert len(await rows_of(db_pool, pair)) == 2


async def test_stock_and_weather_upserts_on_compressed_chunks(
    timescaledb: None, db_pool: asyncpg.Pool
) -> None:
    """The stock and weather writers' upserts (ON CONFLICT ... WHERE distinct,
    simulated never over real) on rows in compressed chunks."""
    day0 = date(2005, 1, 3) + timedelta(days=uuid.uuid4().int % 300)
    stock = f"TZ{uuid.uuid4().hex[:8].upper()}"

    def bar(day: int, c: str) -> StockBarV1:
        return StockBarV1.model_validate(
            {"date": day0 + timedelta(days=day), "o": "10.5", "h": "11", "l": "9", "c": c, "v": "7"}
        )

    stocks = StocksRepository(db_pool)
    async with stocks.transaction() as transaction:
        stock_id, _ = await transaction.stock(new_stock(stock, "NASDAQ"))
        assert (
            await transaction.upsert_prices(
                stock_id, price_columns([bar(0, "10"), bar(1, "10")]), "nasdaq"
            )
            == 2
        )
    location = f"Zz {uuid.uuid4().hex[:8]}"
    hour0 = datetime.combine(day0, datetime.min.time(), tzinfo=UTC)

    def observation(hour: int, temperature: float) -> WeatherObservationV1:
        return WeatherObservationV1(
            t=hour0 + timedelta(hours=hour),
            temperature=temperature,
            humidity=50.0,
            pressure=1000.0,
            wind_speed=2.0,
        )

    weather = WeatherRepository(db_pool)
    async with weather.transaction() as transaction:
        columns = weather_columns([observation(0, 1.0), observation(1, 2.0)])
        assert (
            await transaction.upsert_observations("historic", location, columns, "open-meteo") == 2
        )

    for table, first, last in (
        ("stock_prices", hour0, hour0 + timedelta(days=1)),
        ("weather_historic", hour0, hour0 + timedelta(hours=1)),
    ):
        assert await compress_table_range(db_pool, table, first, last) >= 1, table

    async with stocks.transaction() as transaction:
        changed = price_columns([bar(0, "10"), bar(1, "12.5"), bar(2, "13")])
        assert await transaction.upsert_prices(stock_id, changed, "nasdaq") == 2
        simulated = price_columns([bar(0, "99"), bar(3, "14")])
        assert await transaction.upsert_prices(stock_id, simulated, "simulated") == 1
    async with weather.transaction() as transaction:
        columns = weather_columns([observation(0, 1.0), observation(1, 3.5), observation(2, 4.0)])
        assert (
            await transaction.upsert_observations("historic", location, columns, "open-meteo") == 2
        )
        columns = weather_columns([observation(1, -40.0)])
        assert (
            await transaction.upsert_observations("historic", location, columns, "simulated") == 0
        )

    closes = await db_pool.fetch(
        "SELECT close_price::text AS c, source FROM stock_prices"
        " WHERE stock_id = $1 ORDER BY datetime",
        stock_id,
    )
    assert [(r["c"], r["source"]) for r in closes] == [
        ("10", "nasdaq"),
        ("12.5", "nasdaq"),
        ("13", "nasdaq"),
        ("14", "simulated"),
    ]
    temperatures = await db_pool.fetch(
        "SELECT temperature FROM weather_historic WHERE location = $1 ORDER BY datetime", location
    )
    assert [r["temperature"] for r in temperatures] == [1.0, 3.5, 4.0]
