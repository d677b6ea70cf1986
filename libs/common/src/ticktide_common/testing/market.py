"""Test helpers for the seeded stock symbols (AAPL, NOKIA, ...) and locations: several test
files store rows of them in the run's one database, so a test that asserts a
symbol's exact content first forgets what earlier tests stored."""

from __future__ import annotations

import asyncpg

__all__ = ["forget_stock_rows", "forget_weather_rows"]


async def forget_stock_rows(pool: asyncpg.Pool, *symbols: str) -> None:
    """Delete the stored bars and gaps of `symbols` (their `stocks` rows stay)."""
    async with pool.acquire() as conn, conn.transaction():
        ids = [
            row["id"]
            for row in await conn.fetch(
                "SELECT id FROM stocks WHERE symbol = ANY($1::text[])", list(symbols)
            )
        ]
        await conn.execute("DELETE FROM stock_gaps WHERE stock_id = ANY($1::int[])", ids)
        await conn.execute("DELETE FROM stock_prices WHERE stock_id = ANY($1::int[])", ids)


async def forget_weather_rows(pool: asyncpg.Pool, *locations: str) -> None:
    """Delete the stored observations of `locations` (current and historic)."""
    async with pool.acquire() as conn, conn.transaction():
        for table in ("weather_current", "weather_historic"):
            await conn.execute(
                f"DELETE FROM {table} WHERE location = ANY($1::text[])",  # noqa: S608 - fixed names
                list(locations),
            )
