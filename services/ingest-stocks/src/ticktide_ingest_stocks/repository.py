"""Every SQL statement of ingest-stocks (parameterised, asyncpg).

The `stocks` rows (lookup, the configured symbols ensured at start, the
Nasdaq Nordic orderbook id once resolved), the stored dates of a series, the
`stock_gaps` rows (open / updated / refilled, refill attempts claimed
atomically) and the scheduler's advisory lock.
Job transitions live in `ticktide_common.ingest_lifecycle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ticktide_common.db import advisory_unlock, try_advisory_lock
from ticktide_ingest_stocks.gaps import GapChanges, GapRow

__all__ = [
    "OpenGap",
    "StockRow",
    "advisory_unlock",
    "apply_gap_changes",
    "default_provider_symbol",
    "ensure_stock",
    "get_stock",
    "last_stored_date",
    "lock_stock_gaps",
    "open_gap_rows",
    "open_gaps_due",
    "set_orderbook",
    "stored_dates",
    "try_advisory_lock",
]

Connection = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Pool | Connection
CURRENCIES = {"NASDAQ": "USD", "OMXH": "EUR"}


@dataclass(frozen=True)
class StockRow:
    id: int
    symbol: str
    exchange: str
    provider_symbol: str
    orderbook_id: str | None


@dataclass(frozen=True)
class OpenGap:
    id: int
    symbol: str
    exchange: str
    start: date
    end: date  # inclusive
    refill_attempts: int


def default_provider_symbol(symbol: str, exchange: str) -> str:
    """Ours → the provider's: Nasdaq Nordic writes share classes with a space."""
    return symbol.replace("-", " ") if exchange == "OMXH" else symbol


def _stock(row: asyncpg.Record) -> StockRow:
    return StockRow(
        id=row["id"],
        symbol=row["symbol"],
        exchange=row["exchange"],
        provider_symbol=row["provider_symbol"],
        orderbook_id=row["orderbook_id"],
    )


async def get_stock(pool: Executor, symbol: str) -> StockRow | None:
    row = await pool.fetchrow(
        """SELECT id, symbol, exchange, provider_symbol, orderbook_id FROM stocks
           WHERE symbol = $1""",
        symbol,
    )
    return _stock(row) if row else None


async def ensure_stock(pool: Executor, symbol: str, exchange: str) -> StockRow:
    """The stock's row, created (name = symbol, the exchange's currency) when unknown."""
    row = await pool.fetchrow(
        """INSERT INTO stocks (symbol, name, exchange, currency, provider_symbol)
           VALUES ($1, $1, $2, $3, $4)
           ON CONFLICT (symbol) DO UPDATE SET is_active = true
           RETURNING id, symbol, exchange, provider_symbol, orderbook_id""",
        symbol,
        exchange,
        CURRENCIES[exchange],
        default_provider_symbol(symbol, exchange),
    )
    assert row is not None
    return _stock(row)


async def set_orderbook(pool: Executor, stock_id: int, orderbook_id: str, full_name: str) -> None:
    """Cache the resolved orderbook id; a placeholder name becomes the provider's."""
    await pool.execute(
        """UPDATE stocks SET orderbook_id = $2,
                  name = CASE WHEN name = symbol AND $3 <> '' THEN $3 ELSE name END
           WHERE id = $1""",
        stock_id,
        orderbook_id,
        full_name,
    )


async def last_stored_date(pool: Executor, symbol: str) -> date | None:
    value = await pool.fetchval(
        """SELECT (max(p.datetime) AT TIME ZONE 'UTC')::date
           FROM stock_prices p JOIN stocks s ON s.id = p.stock_id WHERE s.symbol = $1""",
        symbol,
    )
    return value if isinstance(value, date) else None


async def stored_dates(conn: Executor, stock_id: int) -> list[date]:
    rows = await conn.fetch(
        """SELECT (datetime AT TIME ZONE 'UTC')::date AS day FROM stock_prices
           WHERE stock_id = $1 ORDER BY datetime""",
        stock_id,
    )
    return [row["day"] for row in rows]


async def lock_stock_gaps(conn: Connection, stock_id: int) -> None:
    """Serialise gap detection of one stock (until the transaction ends)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('stock_gaps'), $1)", stock_id)


async def open_gap_rows(conn: Executor, stock_id: int) -> list[GapRow]:
    rows = await conn.fetch(
        """SELECT id, gap_start, gap_end FROM stock_gaps
           WHERE stock_id = $1 AND status = 'open' ORDER BY gap_start""",
        stock_id,
    )
    return [GapRow(row["id"], row["gap_start"], row["gap_end"]) for row in rows]


async def apply_gap_changes(conn: Connection, stock_id: int, changes: GapChanges) -> None:
    for gap in changes.opened:
        await conn.execute(
            """INSERT INTO stock_gaps (stock_id, gap_start, gap_end, sessions)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (stock_id, gap_start) DO UPDATE
                   SET gap_end = excluded.gap_end, sessions = excluded.sessions,
                       status = 'open', refilled_at = NULL, detected_at = now()""",
            stock_id,
            gap.start,
            gap.end,
            gap.sessions,
        )
    for row_id, gap in changes.updated:
        await conn.execute(
            "UPDATE stock_gaps SET gap_end = $2, sessions = $3 WHERE id = $1",
            row_id,
            gap.end,
            gap.sessions,
        )
    if changes.refilled:
        await conn.execute(
            """UPDATE stock_gaps SET status = 'refilled', refilled_at = now()
               WHERE id = ANY($1::bigint[]) AND status = 'open'""",
            changes.refilled,
        )


async def open_gaps_due(
    pool: Executor, *, retry_seconds: float, max_attempts: int
) -> list[OpenGap]:
    rows = await pool.fetch(
        """SELECT g.id, s.symbol, s.exchange, g.gap_start AS start, g.gap_end AS "end",
                  g.refill_attempts
           FROM stock_gaps g JOIN stocks s ON s.id = g.stock_id
           WHERE g.status = 'open' AND g.refill_attempts < $2
             AND (g.last_attempt_at IS NULL
                  OR g.last_attempt_at < now() - make_interval(secs => $1))
           ORDER BY g.gap_start LIMIT 100""",
        retry_seconds,
        max_attempts,
    )
    return [OpenGap(**dict(row.items())) for row in rows]  # columns named as its fields
