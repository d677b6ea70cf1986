"""The SQL of `GET /api/user/database/info`: rows, size and time range of each
table of a fixed allow-list, and, where the TimescaleDB extension exists, each
hypertable's chunks, compression and background jobs (each figure in its own
savepoint: one that fails is logged and named in the hypertable's `error`, the
others still read), and every background job's last run. Also the admin tools
of `/admin/database`:
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

from ticktide_common.logging import get_logger

Connection = asyncpg.Connection | PoolConnectionProxy

log = get_logger(__name__)

__all__ = [
    "InfoTable",
    "INFO_TABLES",
    "TableInfo",
    "timescaledb_installed",
    "table_info",
    "background_jobs",
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
SELECT EXISTS (
    SELECT 1 FROM timescaledb_information.hypertables
    WHERE hypertable_schema = 'public' AND hypertable_name = $1::name
)
"""
# Each figure of a hypertable is its own statement in its own savepoint, so that
# one that fails (a TimescaleDB version without that view or column) is logged and
# named in the entry's `error` while the others are still shown. Names compare as
# `name` and functions take `regclass`: one parameter each (a parameter used as
# both is typed by its first use, and `name = regclass` has no operator).
_HYPERTABLE_SIZE = "SELECT hypertable_size($1::regclass)"
_CHUNKS = """
SELECT count(*) AS chunks, count(*) FILTER (WHERE is_compressed) AS compressed_chunks
FROM timescaledb_information.chunks
WHERE hypertable_schema = 'public' AND hypertable_name = $1::name
"""
_COMPRESSION = """
SELECT sum(before_compression_total_bytes) AS before_compression_bytes,
       sum(after_compression_total_bytes) AS after_compression_bytes
FROM hypertable_compression_stats($1::regclass)
"""
_JOB_COLUMNS = """
SELECT j.job_id, j.proc_name, j.hypertable_name,
       extract(epoch FROM j.schedule_interval)::bigint AS schedule_interval_seconds,
       j.scheduled, s.job_status, s.last_run_status,
       CASE WHEN isfinite(s.last_run_started_at) THEN s.last_run_started_at END
           AS last_run_started_at,
       CASE WHEN isfinite(s.last_successful_finish) THEN s.last_successful_finish END
           AS last_successful_finish,
       CASE WHEN isfinite(s.next_start) THEN s.next_start END AS next_start,
       s.total_runs, s.total_successes, s.total_failures
FROM timescaledb_information.jobs j
LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
"""
_HYPERTABLE_JOBS = (
    _JOB_COLUMNS
    + "WHERE j.hypertable_schema = 'public' AND j.hypertable_name = $1::name ORDER BY j.job_id"
)
_ALL_JOBS = _JOB_COLUMNS + "ORDER BY j.job_id"
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


def _job(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "job_id": int(row["job_id"]),
        "proc_name": str(row["proc_name"]),
        "hypertable": row["hypertable_name"],
        "schedule_interval_seconds": _int_or_none(row["schedule_interval_seconds"]),
        "scheduled": row["scheduled"],
        "job_status": row["job_status"],
        "last_run_status": row["last_run_status"],
        "last_run_started_at": row["last_run_started_at"],
        "last_successful_finish": row["last_successful_finish"],
        "next_start": row["next_start"],
        "total_runs": _int_or_none(row["total_runs"]),
        "total_successes": _int_or_none(row["total_successes"]),
        "total_failures": _int_or_none(row["total_failures"]),
    }


async def _guarded_fetch(
    connection: Connection, errors: list[str], table: str, figure: str, sql: str, *args: Any
) -> list[asyncpg.Record] | None:
    """The rows of one figure's statement, in a savepoint; None when it fails,
    which is logged and added to `errors` (one line: the figure and the error)."""
    try:
        async with connection.transaction():
            return list(await connection.fetch(sql, *args))
    except asyncpg.PostgresError as exc:
        message = " ".join(str(exc).split())
        log.error(
            "database.hypertable_figure_failed",
            table=table,
            figure=figure,
            sqlstate=exc.sqlstate,
            error=message,
        )
        errors.append(f"{figure}: {message}")
        return None


async def _hypertable_facts(
    connection: Connection, table: str
) -> tuple[int | None, dict[str, Any]]:
    """(size in bytes, or None where it could not be had; chunk, compression and
    background-job figures) of a hypertable of the public schema. A figure that
    fails is null and named in `error`."""
    regclass = f"public.{quote_identifier(table)}"
    errors: list[str] = []
    size = await _guarded_fetch(connection, errors, table, "size", _HYPERTABLE_SIZE, regclass)
    chunks = await _guarded_fetch(connection, errors, table, "chunks", _CHUNKS, table)
    compression = await _guarded_fetch(
        connection, errors, table, "compression", _COMPRESSION, regclass
    )
    jobs = await _guarded_fetch(connection, errors, table, "jobs", _HYPERTABLE_JOBS, table)
    size_bytes = int(size[0][0] or 0) if size else None
    return size_bytes, {
        "chunks": int(chunks[0]["chunks"]) if chunks else None,
        "compressed_chunks": int(chunks[0]["compressed_chunks"]) if chunks else None,
        "before_compression_bytes": (
            _int_or_none(compression[0]["before_compression_bytes"]) if compression else None
        ),
        "after_compression_bytes": (
            _int_or_none(compression[0]["after_compression_bytes"]) if compression else None
        ),
        "jobs": [_job(row) for row in jobs] if jobs is not None else None,
        "error": "; ".join(errors) or None,
    }


async def background_jobs(pool: asyncpg.Pool) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Every TimescaleDB background job with its last run (call only where
    TimescaleDB is): (jobs, None), or (None, the error) when the views fail."""
    errors: list[str] = []
    async with pool.acquire() as connection:
        rows = await _guarded_fetch(connection, errors, "*", "jobs", _ALL_JOBS)
    return ([_job(row) for row in rows] if rows is not None else None), "; ".join(errors) or None


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
            size_bytes: int | None = None
            if timescaledb and await connection.fetchval(_IS_HYPERTABLE, table.name):
                size_bytes, hypertable = await _hypertable_facts(connection, table.name)
            if size_bytes is None:
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
            hypertable: dict[str, Any] | None = None
            if row["name"] in hypertables:
                hypertable_size, hypertable = await _hypertable_facts(connection, row["name"])
                if hypertable_size is not None:
                    size_bytes = hypertable_size
                    size = str(await connection.fetchval(_PRETTY, size_bytes))
                errors = [hypertable["error"]] if hypertable["error"] else []
                approximate = await _guarded_fetch(
                    connection,
                    errors,
                    row["name"],
                    "row estimate",
                    _HYPERTABLE_ESTIMATE,
                    f"public.{quote_identifier(row['name'])}",
                )
                if approximate and approximate[0][0] is not None and approximate[0][0] >= 0:
                    estimate = int(approximate[0][0])
                hypertable["error"] = "; ".join(errors) or None
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
