"""The writer marks the gateway's rendered price pieces (`crypto_price_pieces`,
migration 0016) as unrendered in the transaction that stores candles: every
piece a stored batch touches gets a new version and loses its bodies, the
others keep theirs; a redelivered batch, or one that changes no row, bumps
nothing; two batches of one group touching one piece bump it once. Against the
real PostgreSQL, through `CandleWriter` with the stored events collected."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from ticktide_common.messages import CandleBatchV1, CandlesStoredV1, CandleV1
from ticktide_writer.candle_batches import DeliveredBatch
from ticktide_writer.candle_writer import CandleWriter
from ticktide_writer.repository import WriterRepository

pytestmark = pytest.mark.integration

JANUARY, FEBRUARY, MARCH, APRIL = (datetime(2019, month, 1, tzinfo=UTC) for month in (1, 2, 3, 4))
BODY = b"rendered before"


@pytest.fixture
async def candle_writer(db_pool: asyncpg.Pool) -> AsyncIterator[CandleWriter]:
    async def publish(event: CandlesStoredV1) -> None:
        return None

    writer = CandleWriter(WriterRepository(db_pool), publish, max_group_wait=0.2)
    writer.start()
    yield writer
    await writer.stop()


def candle(t: datetime, c: str = "42100.99000000") -> CandleV1:
    return CandleV1(t=t, o="42000.01", h="42500", l="41900.5", c=c, v="1234.5")


def batch(symbol: str, candles: list[CandleV1]) -> CandleBatchV1:
    return CandleBatchV1(
        batch_id=uuid.uuid4(),
        job_id=uuid.uuid4(),
        symbol=symbol,
        interval="1h",
        source="binance",
        candles=candles,
    )


async def new_symbol(pool: asyncpg.Pool) -> tuple[str, int]:
    symbol = f"TTRP{uuid.uuid4().hex[:6].upper()}USDT"
    crypto_id = await pool.fetchval(
        "INSERT INTO cryptocurrencies (symbol, name, binance_symbol) VALUES ($1, $1, $1)"
        " RETURNING id",
        symbol,
    )
    return symbol, int(crypto_id)


async def rendered(pool: asyncpg.Pool, crypto_id: int, *starts: datetime) -> None:
    """Pieces as a gateway would have written them back: version 5, both bodies."""
    await pool.executemany(
        """INSERT INTO crypto_price_pieces
               (crypto_id, interval_type, piece_start, version, rows_piece, columns_piece)
           VALUES ($1, '1h', $2, 5, $3, $3)""",
        [(crypto_id, start, BODY) for start in starts],
    )


async def pieces(pool: asyncpg.Pool, crypto_id: int) -> dict[datetime, tuple[int, bool, bool]]:
    """Piece start → (version, rows body present, columns body present)."""
    rows = await pool.fetch(
        """SELECT piece_start, version, rows_piece IS NOT NULL AS r,
                  columns_piece IS NOT NULL AS c
           FROM crypto_price_pieces WHERE crypto_id = $1 AND interval_type = '1h'""",
        crypto_id,
    )
    return {row["piece_start"]: (row["version"], row["r"], row["c"]) for row in rows}


async def test_a_batch_over_three_months_bumps_exactly_their_pieces(
    db_pool: asyncpg.Pool, candle_writer: CandleWriter
) -> None:
    symbol, crypto_id = await new_symbol(db_pool)
    await rendered(db_pool, crypto_id, JANUARY, FEBRUARY, MARCH, APRIL)
    # From January's last hour to March's first: three pieces, April untouched.
    message = batch(
        symbol,
        [
            candle(FEBRUARY - timedelta(hours=1)),
            candle(FEBRUARY + timedelta(days=14)),
            candle(MARCH),
        ],
    )
    await candle_writer.handle(DeliveredBatch.from_message(message))
    bumped = (6, False, False)
    assert await pieces(db_pool, crypto_id) == {
        JANUARY: bumped,
        FEBRUARY: bumped,
        MARCH: bumped,
        APRIL: (5, True, True),
    }

    # The same batch again (a redelivery), and the same candles under a new id
    # (merged, no row changes): no piece moves.
    await candle_writer.handle(DeliveredBatch.from_message(message))
    same = message.model_copy(update={"batch_id": uuid.uuid4()})
    await candle_writer.handle(DeliveredBatch.from_message(same))
    assert (await pieces(db_pool, crypto_id))[MARCH] == bumped

    # One changed candle of February, merged: only February's piece.
    changed = batch(symbol, [candle(FEBRUARY + timedelta(days=14), c="1.5")])
    await candle_writer.handle(DeliveredBatch.from_message(changed))
    after = await pieces(db_pool, crypto_id)
    assert (after[JANUARY], after[FEBRUARY], after[MARCH]) == (bumped, (7, False, False), bumped)


async def test_a_piece_no_one_rendered_gets_a_row_at_version_one(
    db_pool: asyncpg.Pool, candle_writer: CandleWriter
) -> None:
    symbol, crypto_id = await new_symbol(db_pool)
    await candle_writer.handle(DeliveredBatch.from_message(batch(symbol, [candle(APRIL)])))
    assert await pieces(db_pool, crypto_id) == {APRIL: (1, False, False)}


async def test_two_batches_of_one_group_on_one_piece_bump_it_once(
    db_pool: asyncpg.Pool, candle_writer: CandleWriter
) -> None:
    symbol, crypto_id = await new_symbol(db_pool)
    await rendered(db_pool, crypto_id, MARCH)
    first = batch(symbol, [candle(MARCH), candle(MARCH + timedelta(hours=1))])
    second = batch(symbol, [candle(MARCH + timedelta(hours=2))])
    # Both queued within the group's wait: one transaction, one statement.
    await asyncio.gather(
        candle_writer.handle(DeliveredBatch.from_message(first)),
        candle_writer.handle(DeliveredBatch.from_message(second)),
    )
    assert await pieces(db_pool, crypto_id) == {MARCH: (6, False, False)}
