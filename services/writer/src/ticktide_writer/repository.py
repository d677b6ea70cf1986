"""Every SQL statement of the writer.

A group of batches is written in one transaction (`WriteTransaction`):
claim the batch ids in `ingest_batches` (a conflict means the batch was
stored before); ask which batches overlap rows already stored; COPY the
candles of the others ("fresh": none of their rows can exist yet) straight
into `crypto_prices`; COPY the overlapping ones into a per-connection
temporary staging table and upsert each from there. Prices travel as text in
both paths, so PostgreSQL parses the provider's decimal strings itself and
keeps every digit. Each row's `candle_json` (what the gateway serves) is
written in the same statement as the row: rendered with the COPY text, or by
PostgreSQL in the upsert.

Just before the commit, one statement marks every price piece (a calendar
month of 1h candles, a year of 4h/1d; `crypto_price_pieces`) that the stored
batches touch as unrendered: its version goes up and its rendered bodies are
cleared, so the gateway renders it again instead of serving what it wrote back
before. Taken last and in key order, those row locks are held only for the
commit and never cross another writer's or a gateway write-back's.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ticktide_common.candle_json import candle_json_sql
from ticktide_writer.activity_rows import ActivityRow
from ticktide_writer.service import BatchSpan, StagingRow, rows_changed_from_status

__all__ = [
    "WriterRepository",
    "WriteTransaction",
    "STAGING_TABLE",
    "PRICE_COLUMNS",
    "Connection",
    "claim_batch",
]

Connection = asyncpg.Connection | PoolConnectionProxy

STAGING_TABLE = "writer_candle_staging"
STAGING_COLUMNS = (
    "batch_no",
    "datetime",
    "open_price",
    "high_price",
    "low_price",
    "close_price",
    "volume",
)

PRICE_COLUMNS = (
    "crypto_id",
    "datetime",
    "interval_type",
    "open_price",
    "high_price",
    "low_price",
    "close_price",
    "volume",
    "source",
    "candle_json",
)

_OVERLAPPING_BATCHES = """
SELECT span.batch_no
FROM unnest($1::integer[], $2::integer[], $3::text[], $4::timestamptz[], $5::timestamptz[])
     AS span(batch_no, crypto_id, interval_type, first_t, last_t)
WHERE EXISTS (
    SELECT 1 FROM crypto_prices p
    WHERE p.crypto_id = span.crypto_id AND p.interval_type = span.interval_type
      AND p.datetime BETWEEN span.first_t AND span.last_t
)
"""

# Every piece a stored batch touches, each once, in key order (concurrent
# writers lock them in the same order); crypto_pieces_between (migration 0016)
# is the piece boundary the gateway shares.
_MARK_PIECES_UNRENDERED = """
INSERT INTO crypto_price_pieces AS p (crypto_id, interval_type, piece_start)
SELECT DISTINCT span.crypto_id, span.interval_type, piece_start
FROM unnest($1::integer[], $2::text[], $3::timestamptz[], $4::timestamptz[])
     AS span(crypto_id, interval_type, first_t, last_t)
CROSS JOIN LATERAL crypto_pieces_between(span.interval_type, span.first_t, span.last_t)
     AS piece_start
ORDER BY 1, 2, 3
ON CONFLICT (crypto_id, interval_type, piece_start) DO UPDATE
SET version = p.version + 1, rows_piece = NULL, columns_piece = NULL
"""

_CREATE_STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING_TABLE} (
    batch_no     integer NOT NULL,
    datetime     timestamptz NOT NULL,
    open_price   text NOT NULL,
    high_price   text NOT NULL,
    low_price    text NOT NULL,
    close_price  text NOT NULL,
    volume       text NOT NULL
) ON COMMIT DELETE ROWS
"""

_CLAIM_BATCHES = """
INSERT INTO ingest_batches (batch_id, job_id, candles)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::integer[])
ON CONFLICT (batch_id) DO NOTHING
RETURNING batch_id
"""

# A row changes only when a value differs; simulated data never replaces a
# row from a real source, while real data does replace simulated rows. The
# candle's JSON is rendered here from the parsed numerics (`numeric::text`, the
# digits stored), in the same statement as the row it describes.
_UPSERT_BATCH = f"""
INSERT INTO crypto_prices AS p (crypto_id, datetime, interval_type, open_price, high_price,
                                low_price, close_price, volume, source, candle_json)
SELECT $2::integer, n.datetime, $3::text, n.open_price, n.high_price, n.low_price,
       n.close_price, n.volume, $4::text, {candle_json_sql("n")}
FROM (
    SELECT s.datetime, s.open_price::numeric AS open_price, s.high_price::numeric AS high_price,
           s.low_price::numeric AS low_price, s.close_price::numeric AS close_price,
           s.volume::numeric AS volume
    FROM {STAGING_TABLE} AS s
    WHERE s.batch_no = $1
) AS n
ON CONFLICT (crypto_id, interval_type, datetime) DO UPDATE SET
    open_price = EXCLUDED.open_price,
    high_price = EXCLUDED.high_price,
    low_price = EXCLUDED.low_price,
    close_price = EXCLUDED.close_price,
    volume = EXCLUDED.volume,
    source = EXCLUDED.source,
    candle_json = EXCLUDED.candle_json,
    updated_at = now()
WHERE (EXCLUDED.source <> 'simulated' OR p.source = 'simulated')
  AND (p.open_price, p.high_price, p.low_price, p.close_price, p.volume, p.source)
      IS DISTINCT FROM
      (EXCLUDED.open_price, EXCLUDED.high_price, EXCLUDED.low_price, EXCLUDED.close_price,
       EXCLUDED.volume, EXCLUDED.source)
"""  # noqa: S608 - the table name is a module constant; values are parameters

_INSERT_CRYPTOCURRENCIES = """
INSERT INTO cryptocurrencies (symbol, name, binance_symbol)
SELECT base, base, pair FROM unnest($1::text[], $2::text[]) AS t(pair, base)
ON CONFLICT (binance_symbol) DO NOTHING
"""

_CRYPTOCURRENCY_IDS = """
SELECT binance_symbol, id FROM cryptocurrencies WHERE binance_symbol = ANY($1::text[])
"""


# A user deleted meanwhile leaves user_id NULL (the FK would refuse the row);
# a redelivered event (same event_id) is skipped.
_INSERT_ACTIVITY = """
INSERT INTO user_activity_log (event_id, user_id, action, ip_address, user_agent, details,
                               timestamp)
SELECT e.event_id, u.id, e.action, e.ip_address::inet, e.user_agent, e.details::jsonb, e.at
FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::timestamptz[]) AS e(event_id, user_id, action, ip_address, user_agent, details, at)
LEFT JOIN users u ON u.id = e.user_id
ON CONFLICT (event_id) DO NOTHING
"""


async def claim_batch(
    connection: Connection, batch_id: uuid.UUID, job_id: uuid.UUID | None, rows: int
) -> bool:
    """Record one batch in `ingest_batches` inside the caller's transaction;
    False when it was recorded before (a redelivery: store nothing again)."""
    claimed = await connection.fetch(_CLAIM_BATCHES, [batch_id], [job_id], [rows])
    return bool(claimed)


class WriteTransaction:
    """The statements of one open write transaction on one connection.

    The spans asked about in `overlapping_stored` are those of the batches this
    transaction stores (the claimed ones); a merged batch that changes no row
    drops out, and `mark_pieces_unrendered` marks the pieces of the rest."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._stored_spans: dict[int, BatchSpan] = {}

    async def claim_batches(
        self,
        batch_ids: Sequence[uuid.UUID],
        job_ids: Sequence[uuid.UUID | None],
        candle_counts: Sequence[int],
    ) -> set[uuid.UUID]:
        """Record the batches; returns the ids that were not recorded before."""
        rows = await self._connection.fetch(
            _CLAIM_BATCHES, list(batch_ids), list(job_ids), list(candle_counts)
        )
        return {row["batch_id"] for row in rows}

    async def overlapping_stored(self, spans: Sequence[BatchSpan]) -> set[int]:
        """Numbers of the batches whose span already holds a stored row."""
        if not spans:
            return set()
        self._stored_spans.update((s.batch_no, s) for s in spans)
        rows = await self._connection.fetch(
            _OVERLAPPING_BATCHES,
            [s.batch_no for s in spans],
            [s.crypto_id for s in spans],
            [s.interval for s in spans],
            [s.first_t for s in spans],
            [s.last_t for s in spans],
        )
        return {row["batch_no"] for row in rows}

    async def copy_fresh(self, copy_text: str) -> int:
        """COPY rows (COPY text format) straight into crypto_prices; returns rows."""
        status = await self._connection.copy_to_table(
            "crypto_prices",
            source=io.BytesIO(copy_text.encode()),
            columns=PRICE_COLUMNS,
            format="text",
        )
        return rows_changed_from_status(status)

    async def stage(self, rows: Iterable[StagingRow]) -> None:
        """COPY candles into the staging table (emptied at commit)."""
        await self._connection.copy_records_to_table(
            STAGING_TABLE, records=rows, columns=STAGING_COLUMNS
        )

    async def upsert_staged_batch(
        self, batch_no: int, crypto_id: int, interval: str, source: str
    ) -> int:
        """Insert or update one staged batch's candles; returns rows changed."""
        status = await self._connection.execute(
            _UPSERT_BATCH, batch_no, crypto_id, interval, source
        )
        changed = rows_changed_from_status(status)
        if not changed:
            self._stored_spans.pop(batch_no, None)
        return changed

    async def mark_pieces_unrendered(self) -> None:
        """Bump and clear the price pieces the stored batches touch (one statement;
        none when nothing was stored)."""
        spans = list(self._stored_spans.values())
        self._stored_spans.clear()
        if not spans:
            return
        await self._connection.execute(
            _MARK_PIECES_UNRENDERED,
            [s.crypto_id for s in spans],
            [s.interval for s in spans],
            [s.first_t for s in spans],
            [s.last_t for s in spans],
        )


class WriterRepository:
    """The writer's access to PostgreSQL, over a pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def write_transaction(self) -> AsyncIterator[WriteTransaction]:
        """One transaction; commits when the block ends without an exception,
        after marking the price pieces of what it stored as unrendered."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(_CREATE_STAGING)
            transaction = WriteTransaction(connection)
            yield transaction
            await transaction.mark_pieces_unrendered()

    async def insert_activity(self, rows: Sequence[ActivityRow]) -> int:
        """Insert activity rows in one statement (one transaction); returns how many
        were new."""
        if not rows:
            return 0
        columns = zip(*rows, strict=True)
        status = await self._pool.execute(_INSERT_ACTIVITY, *(list(c) for c in columns))
        return rows_changed_from_status(status)

    async def ensure_cryptocurrencies(self, pairs: dict[str, str]) -> dict[str, int]:
        """Ids of the trading pairs (pair → base asset), creating unknown ones."""
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(_INSERT_CRYPTOCURRENCIES, list(pairs), list(pairs.values()))
            rows = await connection.fetch(_CRYPTOCURRENCY_IDS, list(pairs))
        return {row["binance_symbol"]: row["id"] for row in rows}
