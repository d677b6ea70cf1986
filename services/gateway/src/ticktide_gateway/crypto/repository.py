"""The crypto endpoints' SQL; all parameterised.

Candles leave PostgreSQL as ready JSON text (each row's stored `candle_json`)
whose numbers are the stored numeric digits, so the API's JSON numbers print
back as the provider's decimal strings. Price pieces are also kept rendered in
`crypto_price_pieces` (see price_reader for who writes what, and when).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

import asyncpg

from ticktide_common.candle_json import candle_json_sql
from ticktide_gateway.aggregate_paths import (
    BUCKET_ORIGIN,
    SeriesPath,
    fetchrow_without_jit,
    fresh_aggregate_days_sql,
)
from ticktide_gateway.crypto.price_pieces import Piece, PriceShape, split_into_pieces
from ticktide_gateway.crypto.quality import SeriesFacts

__all__ = [
    "CandlesJson",
    "bucketed_candles",
    "find_crypto_id",
    "price_pieces",
    "rendered_pieces",
    "render_pieces",
    "write_back_pieces",
    "window_edge",
    "active_symbols",
    "series_facts",
]


class CandlesJson(NamedTuple):
    """`{"t":…,"o":…}` objects joined by commas (no brackets), and their sources."""

    objects: str
    sources: list[str]


# The sources of a set of rows come from three bool_or aggregates (the table's
# CHECK allows exactly these three), which cost nothing next to a DISTINCT sort.
_CANDLE_SOURCES = ("binance", "binance-archive", "simulated")

_CRYPTO_ID = "SELECT id FROM cryptocurrencies WHERE binance_symbol = $1"

# Pieces (see price_pieces): the candles of [$3, $4) as the answer's JSON text,
# one source code per candle, in one aggregate each over one indexed range scan;
# price_pieces splits them into pieces. The rows come from a subquery ordered
# by open time, which the index scan yields without a sort, and the aggregates
# take them in that order (PostgreSQL's documented way of ordering aggregate
# input; 3-5x cheaper here than `ORDER BY` inside each aggregate, which sorts
# the rows again per aggregate). The tests check the order on both legs.
_PIECES_OF = """
SELECT string_agg(code, ''), {segments}
FROM (
    SELECT CASE source WHEN 'binance' THEN 'b' WHEN 'binance-archive' THEN 'a' ELSE 's' END
               AS code,
           {columns}
    FROM crypto_prices
    WHERE crypto_id = $1 AND interval_type = $2 AND datetime >= $3 AND datetime < $4
    ORDER BY datetime
) ordered
"""
_PIECE_COLUMNS: dict[str, tuple[str, ...]] = {
    "rows": (f"coalesce(candle_json, {candle_json_sql()})",),
    "columns": (
        "extract(epoch FROM datetime)::bigint::text",
        "open_price::text",
        "high_price::text",
        "low_price::text",
        "close_price::text",
        "volume::text",
    ),
}
_PIECES = {
    shape: _PIECES_OF.format(  # noqa: S608 - constants only
        segments=", ".join(f"string_agg(c{i}, ',')" for i in range(len(columns))),
        columns=", ".join(f"{column} AS c{i}" for i, column in enumerate(columns)),
    )
    for shape, columns in _PIECE_COLUMNS.items()
}

# Rendered pieces (migration 0016): one primary-key lookup per piece asked for.
# A row missing is version 0 (no writer touched that piece since the table
# exists); a NULL body, not rendered since its candles last changed.
_RENDERED = """
SELECT piece_start, version, {shape}_piece
FROM crypto_price_pieces
WHERE crypto_id = $1 AND interval_type = $2 AND piece_start = ANY($3::timestamptz[])
"""
_RENDERED_BY_SHAPE = {shape: _RENDERED.format(shape=shape) for shape in _PIECE_COLUMNS}
# A write-back lands only on the version it was rendered at: a writer that
# touched the piece since (or is about to commit, holding the row's lock: ON
# CONFLICT waits for it, then re-checks the row) has a higher version. A piece
# no writer ever touched is inserted at version 0, below any writer's. Rows go
# in piece order, the order in which writers lock them too.
_WRITE_BACK = """
INSERT INTO crypto_price_pieces AS p (crypto_id, interval_type, piece_start, version,
                                      {shape}_piece)
SELECT $1, $2, w.piece_start, w.version, w.body
FROM unnest($3::timestamptz[], $4::bigint[], $5::bytea[]) AS w(piece_start, version, body)
ORDER BY w.piece_start
ON CONFLICT (crypto_id, interval_type, piece_start) DO UPDATE
SET {shape}_piece = EXCLUDED.{shape}_piece
WHERE p.version = EXCLUDED.version
"""
_WRITE_BACK_BY_SHAPE = {
    shape: _WRITE_BACK.format(shape=shape)  # noqa: S608 - constants only
    for shape in _PIECE_COLUMNS
}

# The open time of the `limit`-th newest (or oldest) candle of [$3, $4), or of
# the last one there when fewer: where a window of `limit` candles ends.
_EDGE = """
SELECT {edge}(datetime) FROM (
    SELECT datetime FROM crypto_prices
    WHERE crypto_id = $1 AND interval_type = $2 AND datetime >= $3 AND datetime < $4
    ORDER BY datetime {direction} LIMIT $5
) window_rows
"""
_NEWEST_EDGE = _EDGE.format(edge="min", direction="DESC")
_OLDEST_EDGE = _EDGE.format(edge="max", direction="ASC")

_ACTIVE_SYMBOLS = """
SELECT c.binance_symbol, c.symbol AS base, c.name, s.interval_type, s.candles, s.first, s.last,
       s.sources
FROM cryptocurrencies c
LEFT JOIN LATERAL (
    SELECT p.interval_type, count(*) AS candles, min(p.datetime) AS first,
           max(p.datetime) AS last, array_agg(DISTINCT p.source ORDER BY p.source) AS sources
    FROM crypto_prices p
    WHERE p.crypto_id = c.id
    GROUP BY p.interval_type
) s ON true
WHERE c.is_active
ORDER BY c.binance_symbol, s.interval_type
"""

_SERIES_SUMMARY = """
SELECT min(datetime) AS first, max(datetime) AS last, count(*) AS present
FROM crypto_prices
WHERE crypto_id = $1 AND interval_type = $2
"""

_SERIES_HOLES = """
SELECT hole_start, hole_end
FROM (
    SELECT datetime + $3::interval AS hole_start,
           lead(datetime) OVER (ORDER BY datetime) AS hole_end
    FROM crypto_prices
    WHERE crypto_id = $1 AND interval_type = $2
) s
WHERE hole_end > hole_start
ORDER BY hole_start
"""

_REFILLED = """
SELECT coalesce(sum(refilled_candles), 0)
FROM crypto_gaps
WHERE crypto_id = $1 AND interval_type = $2 AND status = 'refilled'
"""


# Buckets of hourly candles, one JSON object each: `n` is the number of hours in
# the bucket. Every number is numeric text (first/last/min/max/sum of numerics
# are exact), so each path prints the same digits.
_BUCKET_JSON = """concat('{"t":"', to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    '","o":', open_price, ',"h":', high_price, ',"l":', low_price, ',"c":', close_price,
    ',"v":', volume, ',"n":', candles, '}')"""
_BUCKETS_SELECT = f"""
SELECT coalesce(string_agg({_BUCKET_JSON}, ',' ORDER BY bucket), '') AS candles,
       coalesce(bool_or(from_binance), false),
       coalesce(bool_or(from_binance_archive), false),
       coalesce(bool_or(from_simulated), false)
FROM (
"""  # noqa: S608 - constants only
_BUCKET_FLAGS = """bool_or(source = 'binance') AS from_binance,
           bool_or(source = 'binance-archive') AS from_binance_archive,
           bool_or(source = 'simulated') AS from_simulated"""
_HOURLY_WHERE = """FROM crypto_prices
    WHERE crypto_id = $1 AND interval_type = '1h' AND datetime >= $2 AND datetime < $3
    GROUP BY 1"""
# Plain PostgreSQL: date_bin from time_bucket's origin; first/last by ordered arrays.
_BUCKETS_PLAIN = f"""{_BUCKETS_SELECT}
    SELECT date_bin($4::interval, datetime, $5::timestamptz) AS bucket,
           (array_agg(open_price ORDER BY datetime))[1] AS open_price,
           max(high_price) AS high_price, min(low_price) AS low_price,
           (array_agg(close_price ORDER BY datetime DESC))[1] AS close_price,
           sum(volume) AS volume, count(*) AS candles, {_BUCKET_FLAGS}
    {_HOURLY_WHERE}
) buckets
"""  # noqa: S608 - constants only
_BUCKETS_TIME_BUCKET = f"""{_BUCKETS_SELECT}
    SELECT time_bucket($4::interval, datetime) AS bucket,
           first(open_price, datetime) AS open_price,
           max(high_price) AS high_price, min(low_price) AS low_price,
           last(close_price, datetime) AS close_price,
           sum(volume) AS volume, count(*) AS candles, {_BUCKET_FLAGS}
    {_HOURLY_WHERE}
) buckets
"""  # noqa: S608 - constants only
# The materialized days still valid from the aggregate, every other day of the
# window (the newest, and any invalidated by a backfill) from the raw hours.
_DAYS_FROM_AGGREGATE = (
    "WITH"  # noqa: S608 - constants only
    + fresh_aggregate_days_sql(
        "crypto_prices_daily", "d.crypto_id = $1 AND d.bucket >= $2 AND d.bucket < $3"
    )
    + """, missing AS MATERIALIZED (
    SELECT day FROM generate_series($2::timestamptz, $3::timestamptz - INTERVAL '1 day',
                                    INTERVAL '1 day') day
    WHERE day NOT IN (SELECT bucket FROM fresh)
)"""
    + f"""{_BUCKETS_SELECT}
    SELECT bucket, open_price, high_price, low_price, close_price, volume, candles,
           from_binance, from_binance_archive, from_simulated
    FROM fresh
    UNION ALL
    SELECT missing.day AS bucket,
           first(open_price, datetime) AS open_price,
           max(high_price) AS high_price, min(low_price) AS low_price,
           last(close_price, datetime) AS close_price,
           sum(volume) AS volume, count(*) AS candles, {_BUCKET_FLAGS}
    FROM missing
    JOIN crypto_prices
      ON crypto_id = $1 AND interval_type = '1h'
     AND datetime >= missing.day AND datetime < missing.day + INTERVAL '1 day'
    GROUP BY 1
) buckets
"""  # noqa: S608 - constants only
)


async def find_crypto_id(pool: asyncpg.Pool, binance_symbol: str) -> int | None:
    value = await pool.fetchval(_CRYPTO_ID, binance_symbol)
    return int(value) if value is not None else None


def _candles_json(row: asyncpg.Record | None) -> CandlesJson:
    assert row is not None
    sources = [name for name, present in zip(_CANDLE_SOURCES, row[1:4], strict=True) if present]
    return CandlesJson(row[0], sources)


async def bucketed_candles(
    pool: asyncpg.Pool,
    crypto_id: int,
    step: timedelta,
    start: datetime,
    end: datetime,
    path: SeriesPath,
) -> CandlesJson:
    """Buckets of `step` (4h, 1d) of the hourly candles whose open times lie in
    [start, end) (both bucket starts), oldest first: daily from the real-time
    continuous aggregate, others by `time_bucket`, or plain SQL without TimescaleDB."""
    arguments: tuple[object, ...]
    if step == timedelta(days=1) and path.crypto_daily_aggregate:
        query, arguments = _DAYS_FROM_AGGREGATE, (crypto_id, start, end)
    elif path.timescaledb:
        query, arguments = _BUCKETS_TIME_BUCKET, (crypto_id, start, end, step)
    else:
        query, arguments = _BUCKETS_PLAIN, (crypto_id, start, end, step, BUCKET_ORIGIN)
    return _candles_json(await fetchrow_without_jit(pool, query, *arguments))


async def price_pieces(
    pool: asyncpg.Pool,
    crypto_id: int,
    interval: str,
    shape: PriceShape,
    start: datetime,
    end: datetime,
) -> dict[datetime, Piece]:
    """The pieces of [start, end) (piece starts) that hold candles, by piece start:
    one indexed range scan."""
    row = await pool.fetchrow(_PIECES[shape], crypto_id, interval, start, end)
    return _split_row(interval, shape, row)


def _split_row(
    interval: str, shape: PriceShape, row: asyncpg.Record | None
) -> dict[datetime, Piece]:
    assert row is not None
    if row[0] is None:
        return {}
    codes = row[0].encode()
    segments = tuple(value.encode() for value in row[1:])
    return split_into_pieces(interval, shape, codes, segments)


RenderedPiece = tuple[int, bytes | None]  # version, body (None: not rendered)


async def rendered_pieces(
    pool: asyncpg.Pool,
    crypto_id: int,
    interval: str,
    shape: PriceShape,
    starts: Sequence[datetime],
) -> dict[datetime, RenderedPiece]:
    """The stored pieces among `starts` in `shape`: (version, encoded piece or None)."""
    rows = await pool.fetch(_RENDERED_BY_SHAPE[shape], crypto_id, interval, list(starts))
    return {row[0]: (int(row[1]), row[2]) for row in rows}


async def render_pieces(
    pool: asyncpg.Pool,
    crypto_id: int,
    interval: str,
    shape: PriceShape,
    spans: Sequence[tuple[datetime, datetime]],
) -> dict[datetime, Piece]:
    """The pieces of each [start, end) of `spans` that hold candles (one
    aggregate per span)."""
    pieces: dict[datetime, Piece] = {}
    async with pool.acquire() as connection:
        for start, end in spans:
            row = await connection.fetchrow(_PIECES[shape], crypto_id, interval, start, end)
            pieces.update(_split_row(interval, shape, row))
    return pieces


async def write_back_pieces(
    pool: asyncpg.Pool,
    crypto_id: int,
    interval: str,
    shape: PriceShape,
    pieces: Sequence[tuple[datetime, int, bytes]],
) -> int:
    """Store rendered pieces (start, version rendered at, encoded piece) where
    their rows still have that version, in one statement; how many landed."""
    if not pieces:
        return 0
    ordered = sorted(pieces)
    status = await pool.execute(
        _WRITE_BACK_BY_SHAPE[shape],
        crypto_id,
        interval,
        [start for start, _, _ in ordered],
        [version for _, version, _ in ordered],
        [body for _, _, body in ordered],
    )
    return int(status.rsplit(" ", 1)[-1])


async def window_edge(
    pool: asyncpg.Pool,
    crypto_id: int,
    interval: str,
    start: datetime,
    end: datetime,
    limit: int,
    *,
    newest: bool,
) -> datetime | None:
    """The open time of the `limit`-th newest (`newest`) or oldest candle in
    [start, end), or of the furthest one when there are fewer; None: none."""
    query = _NEWEST_EDGE if newest else _OLDEST_EDGE
    return await pool.fetchval(query, crypto_id, interval, start, end, limit)  # type: ignore[no-any-return]


async def active_symbols(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """One row per (active symbol, stored interval); interval NULL when none stored."""
    return await pool.fetch(_ACTIVE_SYMBOLS)


async def series_facts(
    pool: asyncpg.Pool, crypto_id: int, interval: str, step: timedelta
) -> SeriesFacts:
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        summary = await connection.fetchrow(_SERIES_SUMMARY, crypto_id, interval)
        holes = await connection.fetch(_SERIES_HOLES, crypto_id, interval, step)
        refilled = await connection.fetchval(_REFILLED, crypto_id, interval)
    assert summary is not None
    return SeriesFacts(
        first=summary["first"],
        last=summary["last"],
        present=int(summary["present"]),
        refilled=int(refilled),
        holes=[(r["hole_start"], r["hole_end"]) for r in holes],
    )
