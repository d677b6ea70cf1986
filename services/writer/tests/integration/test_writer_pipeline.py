"""The writer against the real PostgreSQL and RabbitMQ: batches published on the
bus end up in `crypto_prices` digit for digit, once, updated as candles close,
never downgraded to simulated data, and announced by a stored event; a
malformed message is dead-lettered while the writer keeps consuming."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aio_pika
import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from ticktide_common.bus import Bus
from ticktide_common.candle_json import candle_json_sql
from ticktide_common.messages import CandleBatchV1, CandlesStoredV1, CandleV1
from ticktide_common.testing.events import EventProbe
from ticktide_common.testing.processes import wait_until
from ticktide_common.topology import WRITER_CANDLES, Topology
from ticktide_writer.app import create_app
from ticktide_writer.settings import WriterSettings

T0 = datetime(2024, 5, 1, tzinfo=UTC)
Probe = EventProbe[CandlesStoredV1]


@pytest.fixture(scope="module")
async def writer_app(settings: WriterSettings, bus: Bus) -> AsyncIterator[FastAPI]:
    """The writer app in this process, its lifespan running (consumer started)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
def writer(writer_app: FastAPI) -> None:
    return None


@pytest.fixture
async def stored(settings: WriterSettings, topology: Topology, bus: Bus) -> AsyncIterator[Probe]:
    async with EventProbe(settings.amqp_url, topology, CandlesStoredV1) as probe:
        yield probe


def candle(
    hour: int,
    o: str = "42000.01000000",
    h: str = "42500.00000000",
    low: str = "41900.50000000",
    c: str = "42100.99000000",
    v: str = "1234.56789000",
) -> CandleV1:
    return CandleV1(t=T0 + timedelta(hours=hour), o=o, h=h, l=low, c=c, v=v)


def batch(symbol: str, candles: list[CandleV1], source: str = "binance") -> CandleBatchV1:
    return CandleBatchV1(
        batch_id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        symbol=symbol,
        interval="1h",
        source=source,  # type: ignore[arg-type]
        candles=candles,
    )


async def stored_rows(pool: asyncpg.Pool, symbol: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT p.datetime, p.open_price::text AS o, p.high_price::text AS h,
                  p.low_price::text AS l, p.close_price::text AS c, p.volume::text AS v,
                  p.source
           FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = $1 AND p.interval_type = '1h' ORDER BY p.datetime""",
        symbol,
    )


async def assert_candle_json_matches_columns(pool: asyncpg.Pool, symbol: str) -> None:
    """Every row's stored `candle_json` is present and is exactly the JSON of its
    current columns (what the gateway would render from them)."""
    rows = await pool.fetch(
        f"""SELECT p.datetime, p.candle_json, {candle_json_sql("p")} AS from_columns
            FROM crypto_prices p JOIN cryptocurrencies c ON c.id = p.crypto_id
            WHERE c.binance_symbol = $1 ORDER BY p.datetime""",  # noqa: S608 - constant SQL
        symbol,
    )
    assert rows
    mismatched = [dict(r) for r in rows if r["candle_json"] != r["from_columns"]]
    assert mismatched == []


def as_tuples(rows: list[asyncpg.Record]) -> list[tuple[object, ...]]:
    return [(r["datetime"], r["o"], r["h"], r["l"], r["c"], r["v"]) for r in rows]


def expected(candles: list[CandleV1]) -> list[tuple[object, ...]]:
    return [(c.t, c.o, c.h, c.l, c.c, c.v) for c in candles]


async def publish_and_wait(
    bus: Bus, probe: Probe, message: CandleBatchV1, count: int = 1
) -> CandlesStoredV1:
    await bus.publish(message)
    events = await probe.wait_for(lambda e: e.batch_id == message.batch_id, count=count)
    return events[-1]


async def test_batch_is_stored_digit_for_digit_and_announced(
    writer: None, bus: Bus, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    candles = [
        candle(0),
        candle(
            1,
            o="0.00001234",
            h="0.00001300",
            low="0.00001200",
            c="0.00001299",
            v="98765432109.87654321",
        ),
        candle(
            2,
            o="1.50000000",
            h="123456789012.123456789012",
            low="1.00000000",
            c="1.10000000",
            v="0.00000000",
        ),
    ]
    message = batch("TTDIGITSUSDT", candles)
    event = await publish_and_wait(bus, stored, message)

    assert as_tuples(await stored_rows(db_pool, "TTDIGITSUSDT")) == expected(candles)
    await assert_candle_json_matches_columns(db_pool, "TTDIGITSUSDT")
    assert (event.candles, event.rows_changed) == (3, 3)
    assert (event.first_t, event.last_t) == (candles[0].t, candles[-1].t)
    assert (event.symbol, event.job_id, event.source) == ("TTDIGITSUSDT", message.job_id, "binance")
    crypto = await db_pool.fetchrow(
        "SELECT symbol, name FROM cryptocurrencies WHERE binance_symbol = 'TTDIGITSUSDT'"
    )
    assert dict(crypto) == {"symbol": "TTDIGITS", "name": "TTDIGITS"}
    recorded = await db_pool.fetchrow(
        "SELECT job_id, candles FROM ingest_batches WHERE batch_id = $1", message.batch_id
    )
    assert (recorded["job_id"], recorded["candles"]) == (message.job_id, 3)


async def test_same_batch_twice_is_stored_once_and_announced_twice(
    writer: None, bus: Bus, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    message = batch("TTTWICEUSDT", [candle(0), candle(1)])
    first = await publish_and_wait(bus, stored, message)
    second = await publish_and_wait(bus, stored, message, count=2)

    assert (first.rows_changed, second.rows_changed) == (2, 0)
    assert len(await stored_rows(db_pool, "TTTWICEUSDT")) == 2
    assert (
        await db_pool.fetchval(
            "SELECT count(*) FROM ingest_batches WHERE batch_id = $1", message.batch_id
        )
        == 1
    )


async def test_open_candle_is_updated_by_a_later_batch(
    writer: None, bus: Bus, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    await publish_and_wait(bus, stored, batch("TTOPENUSDT", [candle(0), candle(1, c="100.5")]))
    closed = candle(1, h="42600.00000000", c="42599.12000000", v="2000.00000000")
    later = await publish_and_wait(bus, stored, batch("TTOPENUSDT", [closed, candle(2)]))

    assert as_tuples(await stored_rows(db_pool, "TTOPENUSDT")) == expected(
        [candle(0), closed, candle(2)]
    )
    assert later.rows_changed == 2  # the closed candle updated, the new one inserted
    await assert_candle_json_matches_columns(db_pool, "TTOPENUSDT")

    unchanged = await publish_and_wait(bus, stored, batch("TTOPENUSDT", [closed]))
    assert unchanged.rows_changed == 0


async def test_simulated_never_overwrites_real_but_real_overwrites_simulated(
    writer: None, bus: Bus, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    real = [candle(0), candle(1)]
    await publish_and_wait(bus, stored, batch("TTSIMUSDT", real))
    fake = [candle(0, c="1.00000000"), candle(1, c="2.00000000"), candle(2, c="3.00000000")]
    event = await publish_and_wait(bus, stored, batch("TTSIMUSDT", fake, source="simulated"))

    rows = await stored_rows(db_pool, "TTSIMUSDT")
    assert as_tuples(rows) == expected([*real, fake[2]])
    assert [r["source"] for r in rows] == ["binance", "binance", "simulated"]
    assert event.rows_changed == 1
    await assert_candle_json_matches_columns(db_pool, "TTSIMUSDT")

    refilled = candle(2, c="42222.22000000")
    await publish_and_wait(bus, stored, batch("TTSIMUSDT", [refilled], source="binance-archive"))
    rows = await stored_rows(db_pool, "TTSIMUSDT")
    assert as_tuples(rows) == expected([*real, refilled])
    assert rows[2]["source"] == "binance-archive"
    await assert_candle_json_matches_columns(db_pool, "TTSIMUSDT")


async def test_candle_json_is_the_stored_digits_whatever_the_provider_string(
    writer: None, bus: Bus, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    """Strings that numeric prints differently ('1e-8' → 0.00000001) still get
    the JSON of the stored value, fresh or overlapping."""
    odd = candle(0, o="1e-8", h="+2.50", low=".5", c="05", v="7.")
    await publish_and_wait(bus, stored, batch("TTODDUSDT", [odd]))
    await assert_candle_json_matches_columns(db_pool, "TTODDUSDT")
    assert "0.00000001" in await db_pool.fetchval(
        "SELECT candle_json FROM crypto_prices WHERE open_price = 0.00000001"
    )
    await publish_and_wait(bus, stored, batch("TTODDUSDT", [candle(0, c="1.5E2"), candle(1)]))

    assert await db_pool.fetchval(
        """SELECT p.candle_json FROM crypto_prices p
           JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = 'TTODDUSDT' ORDER BY p.datetime LIMIT 1"""
    ) == (
        '{"t":"2024-05-01T00:00:00Z","o":42000.01000000,"h":42500.00000000,'
        '"l":41900.50000000,"c":150,"v":1234.56789000}'
    )
    await assert_candle_json_matches_columns(db_pool, "TTODDUSDT")


async def test_batches_grouped_in_one_transaction_apply_in_delivery_order(
    writer: None, bus: Bus, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    first = batch("TTGROUPUSDT", [candle(0), candle(1, c="1.00000000")])
    update = batch("TTGROUPUSDT", [candle(1, c="2.00000000"), candle(2)])
    others = [batch(f"TTGRP{i}USDT", [candle(h) for h in range(50)]) for i in range(8)]
    # Published back to back so that they share groups; the repeat of `first`
    # must be a duplicate and must not undo `update`.
    for message in [first, *others[:4], update, first, *others[4:]]:
        await bus.publish(message)
    await stored.wait_for(lambda e: e.batch_id == first.batch_id, count=2)
    for message in [update, *others]:
        await stored.wait_for(lambda e, m=message: e.batch_id == m.batch_id)

    assert as_tuples(await stored_rows(db_pool, "TTGROUPUSDT")) == expected(
        [candle(0), candle(1, c="2.00000000"), candle(2)]
    )
    for i in range(8):
        assert len(await stored_rows(db_pool, f"TTGRP{i}USDT")) == 50


async def dlq_depth(settings: WriterSettings, topology: Topology) -> int:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(topology.dlq_name(WRITER_CANDLES), passive=True)
        return queue.declaration_result.message_count or 0
    finally:
        await connection.close()


async def test_malformed_message_is_dead_lettered_and_consuming_goes_on(
    writer: None,
    bus: Bus,
    stored: Probe,
    db_pool: asyncpg.Pool,
    settings: WriterSettings,
    topology: Topology,
) -> None:
    before = await dlq_depth(settings, topology)
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(topology.events_exchange)
        for body in (b'{"batch_id": "not-a-uuid", "candles": 7}', b"\xff not json"):
            await exchange.publish(
                aio_pika.Message(body, content_type="application/json"),
                routing_key=CandleBatchV1.routing_key,
            )
    finally:
        await connection.close()

    async def dead_lettered() -> bool:
        return await dlq_depth(settings, topology) >= before + 2

    await wait_until(dead_lettered, timeout=20, what="two malformed messages in the writer DLQ")
    good = batch("TTAFTERDLQUSDT", [candle(0), candle(1)])
    await publish_and_wait(bus, stored, good)
    assert as_tuples(await stored_rows(db_pool, "TTAFTERDLQUSDT")) == expected(
        [candle(0), candle(1)]
    )


async def test_health_ready_and_metrics(
    writer_app: FastAPI, bus: Bus, stored: Probe, db_pool: asyncpg.Pool
) -> None:
    await publish_and_wait(bus, stored, batch("TTMETRICSUSDT", [candle(0)]))
    transport = httpx.ASGITransport(app=writer_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://writer") as client:
        health = (await client.get("/health")).json()
        ready = await client.get("/ready")
        metrics = (await client.get("/metrics")).text
    assert (health["status"], health["service"]) == ("ok", "writer")
    assert ready.status_code == 200, ready.text
    assert set(ready.json()["checks"]) == {"postgres", "rabbitmq"}
    stored_batches = next(
        line
        for line in metrics.splitlines()
        if line.startswith('ticktide_writer_batches_total{outcome="stored"}')
    )
    assert float(stored_batches.split()[-1]) >= 1
    assert "ticktide_writer_commit_seconds_count" in metrics
    assert "ticktide_writer_candles_stored_total" in metrics
