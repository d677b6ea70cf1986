"""Every SQL statement of persisting stock bars.

One batch is one transaction (`StocksTransaction`): claim its id in
`ingest_batches`, find (or create) the stock by our symbol, and upsert all its
bars into `stock_prices` with ONE statement over `unnest`ed arrays. Prices
travel as text and are cast to numeric by PostgreSQL, so every digit the
provider sent is kept.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from ticktide_writer.repository import Connection, claim_batch
from ticktide_writer.service import rows_changed_from_status
from ticktide_writer.stock_rows import NewStock, StockPriceColumns

__all__ = ["StocksRepository", "StocksTransaction"]

# An existing row is kept as it is (name, currency, orderbook id are the
# ingester's and the migration's to set); only an unknown symbol is added.
_INSERT_STOCK = """
INSERT INTO stocks (symbol, name, exchange, currency, provider_symbol)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (symbol) DO NOTHING
"""

# A separate statement after the insert: under READ COMMITTED it sees a row
# that a concurrent transaction committed while our insert waited for it.
_STOCK_BY_SYMBOL = "SELECT id, exchange FROM stocks WHERE symbol = $1"

# A row changes only when a value differs; simulated data never replaces a
# row from a real source, while real data does replace simulated rows.
_UPSERT_PRICES = """
INSERT INTO stock_prices AS p (stock_id, datetime, open_price, high_price, low_price,
                               close_price, volume, average_price, turnover, source)
SELECT $1::integer, b.datetime, b.open_price::numeric, b.high_price::numeric,
       b.low_price::numeric, b.close_price::numeric, b.volume::numeric,
       b.average_price::numeric, b.turnover::numeric, $10::text
FROM unnest($2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[])
     AS b(datetime, open_price, high_price, low_price, close_price, volume, average_price,
          turnover)
ON CONFLICT (stock_id, datetime) DO UPDATE SET
    open_price = EXCLUDED.open_price,
    high_price = EXCLUDED.high_price,
    low_price = EXCLUDED.low_price,
    close_price = EXCLUDED.close_price,
    volume = EXCLUDED.volume,
    average_price = EXCLUDED.average_price,
    turnover = EXCLUDED.turnover,
    source = EXCLUDED.source,
    updated_at = now()
WHERE NOT (EXCLUDED.source = 'simulated' AND p.source <> 'simulated')
  AND (p.open_price, p.high_price, p.low_price, p.close_price, p.volume, p.average_price,
       p.turnover, p.source)
      IS DISTINCT FROM
      (EXCLUDED.open_price, EXCLUDED.high_price, EXCLUDED.low_price, EXCLUDED.close_price,
       EXCLUDED.volume, EXCLUDED.average_price, EXCLUDED.turnover, EXCLUDED.source)
"""


class StocksTransaction:
    """The statements of one open stock-batch transaction on one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def claim_batch(self, batch_id: uuid.UUID, job_id: uuid.UUID | None, bars: int) -> bool:
        """Record the batch; False when it was stored before."""
        return await claim_batch(self._connection, batch_id, job_id, bars)

    async def stock(self, stock: NewStock) -> tuple[int, str]:
        """(id, exchange) of the stock with this symbol, created when unknown."""
        await self._connection.execute(
            _INSERT_STOCK,
            stock.symbol,
            stock.name,
            stock.exchange,
            stock.currency,
            stock.provider_symbol,
        )
        row = await self._connection.fetchrow(_STOCK_BY_SYMBOL, stock.symbol)
        assert row is not None  # inserted above, and stocks are never deleted
        return int(row["id"]), str(row["exchange"])

    async def upsert_prices(self, stock_id: int, columns: StockPriceColumns, source: str) -> int:
        """Insert or update the bars; returns rows changed."""
        if not len(columns):
            return 0
        status = await self._connection.execute(
            _UPSERT_PRICES,
            stock_id,
            columns.datetimes,
            columns.opens,
            columns.highs,
            columns.lows,
            columns.closes,
            columns.volumes,
            columns.averages,
            columns.turnovers,
            source,
        )
        return rows_changed_from_status(status)


class StocksRepository:
    """The stock writer's access to PostgreSQL, over a pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[StocksTransaction]:
        """One transaction; commits when the block ends without an exception."""
        async with self._pool.acquire() as connection, connection.transaction():
            yield StocksTransaction(connection)
