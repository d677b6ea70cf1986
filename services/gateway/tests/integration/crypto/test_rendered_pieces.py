"""Price pieces kept rendered in PostgreSQL (`crypto_price_pieces`, migration
0016), read by `PriceReader` against the real PostgreSQL and Redis (a piece
cache on a prefix of its own, so every read is cold) and written by the real
writer's code: a cold read writes its pieces back, the next cold read takes
them without the aggregate, a stored batch makes only its piece render again,
and a write-back rendered before a writer's commit never lands over it. Also
the piece boundary the writer and the gateway share (`crypto_piece_start`)."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from redis.asyncio import Redis

from ticktide_common.messages import CandleBatchV1, CandlesStoredV1, CandleV1
from ticktide_common.settings import RedisSettings
from ticktide_gateway.crypto import repository
from ticktide_gateway.crypto.price_cache import PieceCache
from ticktide_gateway.crypto.price_pieces import (
    Piece,
    PriceShape,
    piece_of,
    pieces_covering,
)
from ticktide_gateway.crypto.price_reader import PiecesRead, PriceReader
from ticktide_writer.candle_batches import DeliveredBatch
from ticktide_writer.candle_writer import CandleWriter
from ticktide_writer.repository import WriterRepository
from ticktide_writer.service import batch_span, staging_rows

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
# Years of this file's own (the run's database is shared; every symbol is new too).
YEAR = datetime(2014, 1, 1, tzinfo=UTC)
JUNE = datetime(2014, 6, 1, tzinfo=UTC)
LAST_HOUR = datetime(9999, 12, 31, 23, tzinfo=UTC)


def hours_of(start: datetime, hours: int, seed: int) -> list[tuple]:  # type: ignore[type-arg]
    rng = random.Random(seed)
    rows = []
    for i in range(hours):
        price = f"{rng.uniform(100, 90000):.2f}000000"
        rows.append((start + i * HOUR, price, price, price, price, f"{rng.uniform(0, 99):.5f}000"))
    return rows


@pytest.fixture
async def cold_cache(redis_client: Redis, settings: RedisSettings) -> AsyncIterator[PieceCache]:
    """A piece cache nobody else writes to: every piece read through it is a miss
    until this test stores it."""
    yield PieceCache(
        redis_client, f"{settings.ticktide_redis_prefix}rendered-{uuid.uuid4().hex[:8]}:", 60, 0
    )


@pytest.fixture
async def candle_writer(db_pool: asyncpg.Pool) -> AsyncIterator[CandleWriter]:
    """The writer's group writer over this run's database (stored events dropped)."""

    async def publish(event: CandlesStoredV1) -> None:
        return None

    writer = CandleWriter(WriterRepository(db_pool), publish, max_group_wait=0)
    writer.start()
    yield writer
    await writer.stop()


async def year_series(pool: asyncpg.Pool, candle_store, seed: int) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """A new symbol holding every hour of 2014 (stored with SQL, its 12 pieces at
    version 1, not rendered: what the writer leaves)."""
    symbol = f"TTRP{uuid.uuid4().hex[:6].upper()}USDT"
    crypto_id = await candle_store(pool, symbol, "1h", hours_of(YEAR, 365 * 24, seed))
    return symbol, crypto_id


def a_batch(symbol: str, t: datetime, close: str) -> CandleBatchV1:
    """One candle at `t`, closing at `close`."""
    return CandleBatchV1(
        batch_id=uuid.uuid4(),
        job_id=None,
        symbol=symbol,
        interval="1h",
        source="binance",
        candles=[CandleV1(t=t, o="1.5", h="2.5", l="1.25", c=close, v="10")],
    )


async def cold_read(
    pool: asyncpg.Pool,
    cache: PieceCache,
    crypto_id: int,
    symbol: str,
    starts: list[datetime],
    shape: PriceShape = "rows",
) -> tuple[PriceReader, PiecesRead]:
    reader = PriceReader(pool, cache, crypto_id, symbol, "1h", shape)
    versions = await reader.versions(starts)
    assert versions is not None
    return reader, await reader.read(starts, versions)


async def piece_rows(pool: asyncpg.Pool, crypto_id: int) -> dict[datetime, tuple[int, bool, bool]]:
    """Piece start → (version, rows body present, columns body present)."""
    rows = await pool.fetch(
        """SELECT piece_start, version, rows_piece IS NOT NULL AS r,
                  columns_piece IS NOT NULL AS c
           FROM crypto_price_pieces WHERE crypto_id = $1 AND interval_type = '1h'""",
        crypto_id,
    )
    return {row["piece_start"]: (row["version"], row["r"], row["c"]) for row in rows}


async def test_the_piece_boundary_in_sql_is_piece_of(db_pool: asyncpg.Pool) -> None:
    rng = random.Random(13)
    moments = [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),  # datetime.max: asyncpg infinity
        datetime(2, 3, 4, tzinfo=UTC),
    ]
    for year in (1900, 1999, 2000, 2023, 2024, 2100):
        for month in range(1, 13):
            start = datetime(year, month, 1, tzinfo=UTC)
            moments += [start, start - timedelta(microseconds=1), start + HOUR * 23]
        moments.append(datetime(year, 2, 28, 23, 30, tzinfo=UTC) + timedelta(days=1))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    moments += [epoch + timedelta(seconds=rng.randrange(0, 2**35)) for _ in range(300)]
    async with db_pool.acquire() as connection:
        # The server's calendar is UTC's whatever the session's time zone.
        await connection.execute("SET TimeZone = 'Pacific/Chatham'")
        for interval in ("1h", "4h", "1d"):
            starts = await connection.fetch(
                "SELECT crypto_piece_start($1, t) FROM unnest($2::timestamptz[]) t",
                interval,
                moments,
            )
            assert [row[0] for row in starts] == [piece_of(interval, m) for m in moments]
            for first in rng.sample(moments, 40) + [datetime(9999, 11, 5, tzinfo=UTC)]:
                room = (LAST_HOUR - first).days
                last = min(
                    first + timedelta(days=rng.randrange(0, 900 if room > 900 else 1)), LAST_HOUR
                )
                between = await connection.fetch(
                    "SELECT crypto_pieces_between($1, $2, $3)", interval, first, last
                )
                assert [row[0] for row in between] == pieces_covering(
                    interval, first, last + timedelta(microseconds=1)
                ), (interval, first, last)


async def test_a_cold_read_writes_back_and_the_next_one_needs_no_aggregate(
    db_pool: asyncpg.Pool, cold_cache: PieceCache, candle_store, candle_writer: CandleWriter
) -> None:
    symbol, crypto_id = await year_series(db_pool, candle_store, seed=1)
    # 2014 and the first three months of 2015: those hold no candles.
    starts = pieces_covering("1h", YEAR, datetime(2015, 4, 1, tzinfo=UTC))
    # Versions: 1 for 2014's pieces (stored), 0 for those no write touched.
    version = {start: 1 if start.year == 2014 else 0 for start in starts}
    assert await piece_rows(db_pool, crypto_id) == {
        start: (1, False, False) for start in starts if version[start]
    }
    reader, first = await cold_read(db_pool, cold_cache, crypto_id, symbol, starts)
    assert [(s, v) for s, v, _ in first.unrendered] == list(version.items())
    assert first.count == 8760 and len(first.fresh) == 15
    await reader.write_back(first)
    stored = await piece_rows(db_pool, crypto_id)
    assert stored == {start: (version[start], True, False) for start in starts}

    # Candles changed behind everyone's back (not through the writer): a cold
    # read that still answers the old values took the rendered rows.
    await db_pool.execute(
        """UPDATE crypto_prices SET candle_json = NULL, open_price = 3
           WHERE crypto_id = $1 AND interval_type = '1h' AND datetime < $2""",
        crypto_id,
        datetime(2014, 3, 1, tzinfo=UTC),
    )
    second_cache = PieceCache(cold_cache.redis, cold_cache.prefix + "2:", 60, 0)
    _, second = await cold_read(db_pool, second_cache, crypto_id, symbol, starts)
    assert second.pieces == first.pieces and second.unrendered == []
    assert len(second.fresh) == 15  # still handed on to Redis
    assert [p.count for p in second.pieces[-3:]] == [0, 0, 0]  # empty months, rendered too

    # A batch stored by the writer renders again only the piece it falls in.
    await candle_writer.handle(
        DeliveredBatch.from_message(a_batch(symbol, JUNE + 5 * HOUR, close="4.75"))
    )
    assert (await piece_rows(db_pool, crypto_id))[JUNE] == (2, False, False)
    third_cache = PieceCache(cold_cache.redis, cold_cache.prefix + "3:", 60, 0)
    reader, third = await cold_read(db_pool, third_cache, crypto_id, symbol, starts)
    assert [(s, v) for s, v, _ in third.unrendered] == [(JUNE, 2)]
    june = starts.index(JUNE)
    assert b'"c":4.75' in third.pieces[june].segments[0]
    assert third.pieces[:june] == first.pieces[:june]  # January, February: the old text
    await reader.write_back(third)
    assert await piece_rows(db_pool, crypto_id) == {**stored, JUNE: (2, True, False)}

    # The other shape renders and writes back beside, not over, the first.
    columns_cache = PieceCache(cold_cache.redis, cold_cache.prefix + "4:", 60, 0)
    reader, columns = await cold_read(
        db_pool, columns_cache, crypto_id, symbol, starts[:2], shape="columns"
    )
    assert len(columns.unrendered) == 2
    await reader.write_back(columns)
    after = await piece_rows(db_pool, crypto_id)
    assert [after[s] for s in starts[:3]] == [(1, True, True), (1, True, True), (1, True, False)]
    assert columns.pieces[0].segments[1].startswith(b"3,")  # January's open, as updated


async def test_a_write_back_from_before_a_writers_commit_is_refused(
    db_pool: asyncpg.Pool, cold_cache: PieceCache, candle_store, candle_writer: CandleWriter
) -> None:
    symbol, crypto_id = await year_series(db_pool, candle_store, seed=2)
    january = datetime(2015, 1, 1, tzinfo=UTC)  # no candles, no row yet (version 0)
    starts = pieces_covering("1h", YEAR, datetime(2015, 3, 1, tzinfo=UTC))

    # Between the snapshot and the write-back, a writer bumps June (version 1
    # to 2) and stores the first candle of January 2015 (its row: version 1).
    reader, old = await cold_read(db_pool, cold_cache, crypto_id, symbol, starts)
    await candle_writer.handle(DeliveredBatch.from_message(a_batch(symbol, JUNE, close="5.5")))
    await candle_writer.handle(DeliveredBatch.from_message(a_batch(symbol, january, "5.25")))
    await reader.write_back(old)
    rows = await piece_rows(db_pool, crypto_id)
    assert (rows[JUNE], rows[january]) == ((2, False, False), (1, False, False))
    assert rows[datetime(2015, 2, 1, tzinfo=UTC)] == (0, True, False)  # empty, at version 0
    assert all(rows[s] == (1, True, False) for s in starts if s.year == 2014 and s != JUNE)

    # A row at version 2: read, a writer commits version 3, the old read comes back.
    _, at_one = await cold_read(
        db_pool,
        PieceCache(cold_cache.redis, cold_cache.prefix + "2:", 60, 0),
        crypto_id,
        symbol,
        [JUNE],
    )
    assert [v for _, v, _ in at_one.unrendered] == [2]
    await candle_writer.handle(DeliveredBatch.from_message(a_batch(symbol, JUNE, close="6.5")))
    await reader.write_back(at_one)
    assert (await piece_rows(db_pool, crypto_id))[JUNE] == (3, False, False)

    # A writer that has bumped June but not committed: the write-back waits for
    # its lock, then finds the writer's version and writes nothing.
    _, at_two = await cold_read(
        db_pool,
        PieceCache(cold_cache.redis, cold_cache.prefix + "3:", 60, 0),
        crypto_id,
        symbol,
        [JUNE],
    )
    assert [v for _, v, _ in at_two.unrendered] == [3]
    message = a_batch(symbol, JUNE, close="7.5")
    batch = DeliveredBatch.from_message(message)
    span = batch_span(0, crypto_id, batch)
    assert span is not None
    async with WriterRepository(db_pool).write_transaction() as transaction:
        await transaction.overlapping_stored([span])
        await transaction.stage(staging_rows(0, batch))
        assert await transaction.upsert_staged_batch(0, crypto_id, "1h", "binance") == 1
        await transaction.mark_pieces_unrendered()  # the commit still to come
        writing_back = asyncio.create_task(reader.write_back(at_two))
        await asyncio.sleep(0.3)
        assert not writing_back.done()  # waiting on the writer's row lock
    await asyncio.wait_for(writing_back, 5)
    assert (await piece_rows(db_pool, crypto_id))[JUNE] == (4, False, False)

    # The next cold read renders June at version 4, and that write-back lands.
    reader, fresh = await cold_read(
        db_pool,
        PieceCache(cold_cache.redis, cold_cache.prefix + "4:", 60, 0),
        crypto_id,
        symbol,
        [JUNE],
    )
    assert [v for _, v, _ in fresh.unrendered] == [4]
    assert b'"c":7.5' in fresh.pieces[0].segments[0]
    await reader.write_back(fresh)
    assert (await piece_rows(db_pool, crypto_id))[JUNE] == (4, True, False)


async def test_a_corrupt_rendered_piece_is_rendered_again(
    db_pool: asyncpg.Pool, cold_cache: PieceCache, candle_store
) -> None:
    symbol, crypto_id = await year_series(db_pool, candle_store, seed=3)
    starts = pieces_covering("1h", YEAR, datetime(2014, 3, 1, tzinfo=UTC))
    reader, first = await cold_read(db_pool, cold_cache, crypto_id, symbol, starts)
    await reader.write_back(first)
    await db_pool.execute(
        """UPDATE crypto_price_pieces SET rows_piece = 'not a piece'
           WHERE crypto_id = $1 AND piece_start = $2""",
        crypto_id,
        starts[1],
    )
    second_cache = PieceCache(cold_cache.redis, cold_cache.prefix + "2:", 60, 0)
    reader, second = await cold_read(db_pool, second_cache, crypto_id, symbol, starts)
    assert second.pieces == first.pieces
    assert [s for s, _, _ in second.unrendered] == [starts[1]]
    await reader.write_back(second)
    body = await db_pool.fetchval(
        "SELECT rows_piece FROM crypto_price_pieces WHERE crypto_id = $1 AND piece_start = $2",
        crypto_id,
        starts[1],
    )
    assert Piece.from_bytes(body) == first.pieces[1]


async def test_a_write_back_without_postgresql_is_logged_not_raised(
    db_pool: asyncpg.Pool, database_url: str, cold_cache: PieceCache, candle_store
) -> None:
    symbol, crypto_id = await year_series(db_pool, candle_store, seed=4)
    starts = [JUNE]
    _, read = await cold_read(db_pool, cold_cache, crypto_id, symbol, starts)
    closed = await asyncpg.create_pool(database_url, min_size=0, max_size=1)
    assert closed is not None
    await closed.close()  # acquiring from it now fails, as when PostgreSQL is away
    await PriceReader(closed, cold_cache, crypto_id, symbol, "1h", "rows").write_back(read)
    assert await repository.rendered_pieces(db_pool, crypto_id, "1h", "rows", starts) == {
        JUNE: (1, None)
    }
