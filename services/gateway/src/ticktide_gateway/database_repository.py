"""The SQL of `GET /api/user/database/info`: rows, size and time range of each
table of a fixed allow-list, and, where the TimescaleDB extension exists, each
hypertable's chunks and compression.

Table and column names come only from `INFO_TABLES` (constants checked against
a plain-identifier pattern at import); nothing from a request reaches SQL text.
A table missing from this database (a migration not applied) is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy

__all__ = ["InfoTable", "INFO_TABLES", "TableInfo", "timescaledb_installed", "table_info"]


@dataclass(frozen=True)
class InfoTable:
    name: str
    time_column: str


INFO_TABLES: tuple[InfoTable, ...] = (
    InfoTable("crypto_prices", "datetime"),
    InfoTable("stock_prices", "datetime"),
    InfoTable("weather_current", "datetime"),
    InfoTable("weather_historic", "datetime"),
    InfoTable("ingest_jobs", "created_at"),
    InfoTable("crypto_gaps", "detected_at"),
    InfoTable("stock_gaps", "detected_at"),
    InfoTable("user_activity_log", "timestamp"),
    InfoTable("security_events", "timestamp"),
    InfoTable("performance_metrics", "timestamp"),
    InfoTable("backtests", "created_at"),
    InfoTable("backtest_jobs", "finished_at"),
    InfoTable("backtest_results", "created_at"),
)
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
assert all(_IDENTIFIER.match(t.name) and _IDENTIFIER.match(t.time_column) for t in INFO_TABLES)


@dataclass(frozen=True)
class TableInfo:
    table: str
    rows: int
    size_bytes: int
    size: str
    first: datetime | None
    last: datetime | None
    hypertable: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "rows": self.rows,
            "size_bytes": self.size_bytes,
            "size": self.size,
            "first": self.first,
            "last": self.last,
            "hypertable": self.hypertable,
        }


_HAS_TIMESCALEDB = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
_EXISTS = "SELECT to_regclass($1) IS NOT NULL"
_PLAIN_SIZE = "SELECT pg_total_relation_size($1::regclass)"
_IS_HYPERTABLE = """
SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = $1)
"""
_HYPERTABLE = """
SELECT hypertable_size($1::regclass) AS size_bytes,
       (SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = $1)
           AS chunks,
       (SELECT count(*) FROM timescaledb_information.chunks
        WHERE hypertable_name = $1 AND is_compressed) AS compressed_chunks,
       (SELECT sum(before_compression_total_bytes) FROM hypertable_compression_stats($1::regclass))
           AS before_compression_bytes,
       (SELECT sum(after_compression_total_bytes) FROM hypertable_compression_stats($1::regclass))
           AS after_compression_bytes
"""
_PRETTY = "SELECT pg_size_pretty($1::bigint)"


def _stats_sql(table: InfoTable) -> str:
    return (
        f"SELECT count(*) AS rows, min({table.time_column}) AS first, "  # noqa: S608
        f"max({table.time_column}) AS last FROM {table.name}"
    )


async def timescaledb_installed(pool: asyncpg.Pool) -> bool:
    return bool(await pool.fetchval(_HAS_TIMESCALEDB))


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


async def _hypertable_facts(
    connection: Connection, table: str
) -> tuple[int, dict[str, Any]] | None:
    """(size in bytes, chunk and compression figures) of a hypertable; None when
    TimescaleDB's views do not answer (an older or newer version): the plain
    figures are shown then."""
    try:
        async with connection.transaction():  # a savepoint: a failure leaves the rest
            facts = await connection.fetchrow(_HYPERTABLE, table)
    except asyncpg.PostgresError:
        return None
    assert facts is not None
    return int(facts["size_bytes"] or 0), {
        "chunks": int(facts["chunks"]),
        "compressed_chunks": int(facts["compressed_chunks"]),
        "before_compression_bytes": _int_or_none(facts["before_compression_bytes"]),
        "after_compression_bytes": _int_or_none(facts["after_compression_bytes"]),
    }


async def table_info(pool: asyncpg.Pool, *, timescaledb: bool) -> list[TableInfo]:
    """Each allow-listed table that exists, in allow-list order."""
    found: list[TableInfo] = []
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        for table in INFO_TABLES:
            if not await connection.fetchval(_EXISTS, table.name):
                continue
            stats = await connection.fetchrow(_stats_sql(table))
            assert stats is not None
            hypertable: dict[str, Any] | None = None
            facts = None
            if timescaledb and await connection.fetchval(_IS_HYPERTABLE, table.name):
                facts = await _hypertable_facts(connection, table.name)
            if facts is not None:
                size_bytes, hypertable = facts
            else:
                size_bytes = int(await connection.fetchval(_PLAIN_SIZE, table.name))
            found.append(
                TableInfo(
                    table=table.name,
                    rows=int(stats["rows"]),
                    size_bytes=size_bytes,
                    size=str(await connection.fetchval(_PRETTY, size_bytes)),
                    first=stats["first"],
                    last=stats["last"],
                    hypertable=hypertable,
                )
            )
    return found
