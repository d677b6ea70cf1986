"""The SQL of `GET /api/user/database/info`: rows, size and time range of each
table of a fixed allow-list, and, where the TimescaleDB extension exists, each
hypertable's chunks and compression. Also the admin tools of `/admin/database`:
every table of the public schema with its size and the planner's row estimate,
the continuous aggregates, ANALYZE and refreshing an aggregate.

Table and column names come only from `INFO_TABLES` (constants checked against
a plain-identifier pattern at import) or from the catalog (a name asked for is
first found there, then quoted); nothing from a request reaches SQL text.
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

__all__ = [
    "InfoTable",
    "INFO_TABLES",
    "TableInfo",
    "timescaledb_installed",
    "table_info",
    "PublicTable",
    "ContinuousAggregate",
    "quote_identifier",
    "public_tables",
    "public_table_names",
    "row_estimates",
    "continuous_aggregates",
    "analyze_tables",
    "refresh_continuous_aggregate",
]


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


# --- admin tools: every public table, ANALYZE, continuous aggregates -------------------


@dataclass(frozen=True)
class PublicTable:
    name: str
    size_bytes: int
    size: str
    row_estimate: int | None  # the planner's (pg_class.reltuples); None: never analyzed
    hypertable: dict[str, Any] | None


@dataclass(frozen=True)
class ContinuousAggregate:
    name: str
    hypertable: str
    materialized_only: bool | None


_PUBLIC_TABLES = """
SELECT c.relname AS name, pg_total_relation_size(c.oid) AS size_bytes,
       pg_size_pretty(pg_total_relation_size(c.oid)) AS size, c.reltuples AS reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""
_PUBLIC_TABLE_NAMES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname
"""
_HYPERTABLE_NAMES = """
SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public'
"""
# Chunks hold a hypertable's rows: their estimates summed (the root's own is 0).
_HYPERTABLE_ESTIMATE = "SELECT approximate_row_count($1::regclass)"
_CONTINUOUS_AGGREGATES = """
SELECT view_name, hypertable_name, materialized_only
FROM timescaledb_information.continuous_aggregates
WHERE view_schema = 'public'
ORDER BY view_name
"""
_ESTIMATES = """
SELECT c.relname AS name, c.reltuples AS reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname = ANY($1::text[])
"""


def quote_identifier(name: str) -> str:
    """`name` as a quoted SQL identifier (PostgreSQL's quote_ident, always quoting)."""
    if "\x00" in name:
        raise ValueError("an identifier cannot hold NUL")
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _estimate(reltuples: float | None) -> int | None:
    # PostgreSQL 14+: -1 until the first VACUUM or ANALYZE.
    return None if reltuples is None or reltuples < 0 else int(reltuples)


async def _savepoint_value(connection: Connection, sql: str, *args: Any) -> Any:
    """One value of a TimescaleDB function, or None where this version lacks it."""
    try:
        async with connection.transaction():
            return await connection.fetchval(sql, *args)
    except asyncpg.PostgresError:
        return None


async def public_tables(pool: asyncpg.Pool, *, timescaledb: bool) -> list[PublicTable]:
    """Every table of the public schema by name; catalog figures only, no counting."""
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        rows = await connection.fetch(_PUBLIC_TABLES)
        hypertables: set[str] = set()
        if timescaledb:
            hypertables = {r["hypertable_name"] for r in await connection.fetch(_HYPERTABLE_NAMES)}
        found: list[PublicTable] = []
        for row in rows:
            size_bytes, size = int(row["size_bytes"]), str(row["size"])
            estimate = _estimate(row["reltuples"])
            facts = None
            if row["name"] in hypertables:
                facts = await _hypertable_facts(connection, row["name"])
                approximate = await _savepoint_value(
                    connection, _HYPERTABLE_ESTIMATE, f"public.{quote_identifier(row['name'])}"
                )
                if approximate is not None and approximate >= 0:
                    estimate = int(approximate)
            hypertable = None
            if facts is not None:
                size_bytes, hypertable = facts
                size = str(await connection.fetchval(_PRETTY, size_bytes))
            found.append(PublicTable(row["name"], size_bytes, size, estimate, hypertable))
    return found


async def public_table_names(pool: asyncpg.Pool) -> list[str]:
    return [str(r["relname"]) for r in await pool.fetch(_PUBLIC_TABLE_NAMES)]


async def row_estimates(pool: asyncpg.Pool, names: list[str]) -> dict[str, int | None]:
    rows = await pool.fetch(_ESTIMATES, names)
    return {row["name"]: _estimate(row["reltuples"]) for row in rows}


async def continuous_aggregates(pool: asyncpg.Pool) -> list[ContinuousAggregate]:
    """The public schema's continuous aggregates (call only where TimescaleDB is)."""
    rows = await pool.fetch(_CONTINUOUS_AGGREGATES)
    return [
        ContinuousAggregate(r["view_name"], r["hypertable_name"], r["materialized_only"])
        for r in rows
    ]


async def analyze_tables(pool: asyncpg.Pool, names: list[str]) -> None:
    """ANALYZE these public tables, in one statement. The names must come from
    `public_tables` (the catalog), never straight from a request."""
    if not names:
        return
    targets = ", ".join(f"public.{quote_identifier(name)}" for name in names)
    await pool.execute(f"ANALYZE {targets}")


async def refresh_continuous_aggregate(pool: asyncpg.Pool, name: str) -> None:
    """Refresh the whole of one aggregate (a name from `continuous_aggregates`).
    The procedure commits as it goes, so it cannot run inside a transaction
    block: it goes alone, in the simple query protocol, outside any transaction."""
    regclass = _quote_literal(f"public.{quote_identifier(name)}")
    async with pool.acquire() as connection:
        await connection.execute(f"CALL refresh_continuous_aggregate({regclass}, NULL, NULL)")
