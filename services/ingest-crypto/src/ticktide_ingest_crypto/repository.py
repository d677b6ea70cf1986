"""Every SQL statement of ingest-crypto (parameterised, asyncpg).

The last stored candle of a series (and inside a gap, where a capped refill
resumes), gap detection with `lead()` over `crypto_prices`, the `crypto_gaps`
upsert (new holes open; open gaps whose range is complete again become
'refilled'), open gaps due for a refill attempt (claimed atomically) and the
scheduler's advisory lock. Job transitions, the finalize claim and the
scheduled-job rule live in `ticktide_common.ingest_lifecycle`, the close of an
archive import (claim, done, the series' other unfinished imports) in
`ticktide_common.import_jobs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ticktide_common.db import advisory_unlock, try_advisory_lock
from ticktide_ingest_crypto.gaps import Gap, interval_ms

__all__ = [
    "OpenGap",
    "SeriesGaps",
    "advisory_unlock",
    "crypto_id_for_symbol",
    "detect_gaps",
    "last_open_time",
    "last_open_time_between",
    "lock_series",
    "open_gaps_due",
    "try_advisory_lock",
    "upsert_gaps",
]

# A connection checked out of the pool, or a plain one.
Connection = asyncpg.Connection | PoolConnectionProxy


@dataclass(frozen=True)
class OpenGap:
    id: int
    symbol: str
    interval: str
    start: datetime
    end: datetime
    candles: int
    refill_attempts: int


@dataclass(frozen=True)
class SeriesGaps:
    """What one gap-detection pass changed in `crypto_gaps`."""

    new: list[Gap]
    refilled: list[Gap]
    still_open: list[Gap]


async def crypto_id_for_symbol(pool: asyncpg.Pool, symbol: str) -> int | None:
    value = await pool.fetchval("SELECT id FROM cryptocurrencies WHERE binance_symbol = $1", symbol)
    return int(value) if value is not None else None


async def last_open_time(pool: asyncpg.Pool, symbol: str, interval: str) -> datetime | None:
    """Open time of the newest stored candle of a series (None when empty)."""
    value: datetime | None = await pool.fetchval(
        """SELECT p.datetime FROM crypto_prices p
           JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = $1 AND p.interval_type = $2
           ORDER BY p.datetime DESC LIMIT 1""",
        symbol,
        interval,
    )
    return value


async def last_open_time_between(
    pool: asyncpg.Pool, symbol: str, interval: str, start: datetime, end: datetime
) -> datetime | None:
    """Open time of the newest stored candle in `[start, end)` (None when none)."""
    value: datetime | None = await pool.fetchval(
        """SELECT max(p.datetime) FROM crypto_prices p
           JOIN cryptocurrencies c ON c.id = p.crypto_id
           WHERE c.binance_symbol = $1 AND p.interval_type = $2
             AND p.datetime >= $3 AND p.datetime < $4""",
        symbol,
        interval,
        start,
        end,
    )
    return value


async def lock_series(conn: Connection, crypto_id: int, interval: str) -> None:
    """Serialise gap bookkeeping of one series until the transaction ends."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('crypto_gaps'), hashtext($1))",
        f"{crypto_id}:{interval}",
    )


async def detect_gaps(conn: asyncpg.Pool | Connection, crypto_id: int, interval: str) -> list[Gap]:
    """Holes between consecutive stored candles of one series, oldest first."""
    step_ms = interval_ms(interval)
    rows = await conn.fetch(
        """SELECT gap_start, gap_end,
                  (extract(epoch FROM gap_end - gap_start) * 1000 / $3)::bigint AS candles
           FROM (SELECT datetime + make_interval(secs => $3 / 1000.0) AS gap_start,
                        lead(datetime) OVER (ORDER BY datetime) AS gap_end
                 FROM crypto_prices
                 WHERE crypto_id = $1 AND interval_type = $2) series
           WHERE gap_end > gap_start
           ORDER BY gap_start""",
        crypto_id,
        interval,
        step_ms,
    )
    return [
        Gap(start=row["gap_start"], end=row["gap_end"], candles=int(row["candles"])) for row in rows
    ]


async def upsert_gaps(
    conn: Connection, crypto_id: int, interval: str, holes: list[Gap]
) -> SeriesGaps:
    """Record the current holes of a series: open gaps no hole overlaps any more
    become 'refilled' (with their candle count); holes not yet covered by an open
    gap are inserted as new open gaps. Run inside the caller's transaction."""
    starts = [hole.start for hole in holes]
    ends = [hole.end for hole in holes]
    counts = [hole.candles for hole in holes]
    refilled = await conn.fetch(
        """UPDATE crypto_gaps g SET status = 'refilled', refilled_candles = g.candles,
                  refilled_at = now()
           WHERE g.crypto_id = $1 AND g.interval_type = $2 AND g.status = 'open'
             AND NOT EXISTS (SELECT 1 FROM unnest($3::timestamptz[], $4::timestamptz[]) h(s, e)
                             WHERE h.s < g.gap_end AND h.e > g.gap_start)
           RETURNING gap_start, gap_end, candles""",
        crypto_id,
        interval,
        starts,
        ends,
    )
    inserted = await conn.fetch(
        """INSERT INTO crypto_gaps (crypto_id, interval_type, gap_start, gap_end, candles)
           SELECT $1, $2, h.s, h.e, h.n
           FROM unnest($3::timestamptz[], $4::timestamptz[], $5::int[]) h(s, e, n)
           WHERE NOT EXISTS (SELECT 1 FROM crypto_gaps g
                             WHERE g.crypto_id = $1 AND g.interval_type = $2
                               AND g.status = 'open'
                               AND h.s < g.gap_end AND h.e > g.gap_start)
           ON CONFLICT (crypto_id, interval_type, gap_start) DO UPDATE
               SET gap_end = excluded.gap_end, candles = excluded.candles, status = 'open',
                   refilled_candles = 0, refilled_at = NULL, refill_attempts = 0,
                   last_attempt_at = NULL, detected_at = now()
           RETURNING gap_start, gap_end, candles""",
        crypto_id,
        interval,
        starts,
        ends,
        counts,
    )
    still_open = await conn.fetch(
        """SELECT gap_start, gap_end, candles FROM crypto_gaps
           WHERE crypto_id = $1 AND interval_type = $2 AND status = 'open'
           ORDER BY gap_start""",
        crypto_id,
        interval,
    )

    def gaps(rows: list[asyncpg.Record]) -> list[Gap]:
        return [Gap(start=r["gap_start"], end=r["gap_end"], candles=r["candles"]) for r in rows]

    return SeriesGaps(new=gaps(inserted), refilled=gaps(refilled), still_open=gaps(still_open))


async def open_gaps_due(
    pool: asyncpg.Pool,
    *,
    retry_seconds: float,
    max_attempts: int,
    symbol: str | None = None,
    interval: str | None = None,
    limit: int = 200,
) -> list[OpenGap]:
    """Open gaps never tried, or last tried more than `retry_seconds` ago."""
    rows = await pool.fetch(
        """SELECT g.id, c.binance_symbol AS symbol, g.interval_type AS interval,
                  g.gap_start AS start, g.gap_end AS "end", g.candles, g.refill_attempts
           FROM crypto_gaps g JOIN cryptocurrencies c ON c.id = g.crypto_id
           WHERE g.status = 'open' AND g.refill_attempts < $2
             AND (g.last_attempt_at IS NULL
                  OR g.last_attempt_at < now() - make_interval(secs => $1))
             AND ($3::text IS NULL OR c.binance_symbol = $3)
             AND ($4::text IS NULL OR g.interval_type = $4)
           ORDER BY g.gap_start LIMIT $5""",
        retry_seconds,
        max_attempts,
        symbol,
        interval,
        limit,
    )
    return [OpenGap(**dict(row.items())) for row in rows]  # columns named as its fields
