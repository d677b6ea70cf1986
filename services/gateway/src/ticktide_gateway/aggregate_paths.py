"""Which way the gateway aggregates series, decided once at start-up, and the
window arithmetic both ways share.

With TimescaleDB (the extension in this database and the migrations' real-time
continuous aggregates present) daily crypto and weather come from
`crypto_prices_daily` / `weather_historic_daily` and other buckets from
`time_bucket`; without it the same numbers come from plain SQL (`date_bin`) over
the raw rows. Both leave PostgreSQL as the same text: the aggregates hold sums
and counts, and each mean is derived by one SQL expression on either path.

Pure but for `series_path` (the start-up question) and `fetchrow_without_jit`
(how the aggregate queries run): the SQL both domains' aggregates share.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

__all__ = [
    "BUCKET_ORIGIN",
    "SeriesPath",
    "PLAIN_PATH",
    "DAY",
    "bucket_ceil",
    "full_days",
    "series_path",
    "fresh_aggregate_days_sql",
    "fetchrow_without_jit",
]

# time_bucket's default origin for these widths: buckets start at UTC midnight and
# every 4 hours from it; date_bin is given the same origin on the plain path.
BUCKET_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class SeriesPath:
    """What this database offers; `timescaledb` alone allows `time_bucket`."""

    timescaledb: bool
    crypto_daily_aggregate: bool
    weather_daily_aggregate: bool

    def describe(self) -> str:
        if not self.timescaledb:
            return "plain PostgreSQL (date_bin over raw rows)"
        used = [
            name
            for name, present in (
                ("crypto_prices_daily", self.crypto_daily_aggregate),
                ("weather_historic_daily", self.weather_daily_aggregate),
            )
            if present
        ]
        return (
            "TimescaleDB (time_bucket; real-time aggregates: " + (", ".join(used) or "none") + ")"
        )


PLAIN_PATH = SeriesPath(
    timescaledb=False, crypto_daily_aggregate=False, weather_daily_aggregate=False
)


def bucket_ceil(value: datetime, step: timedelta) -> datetime:
    """The first bucket start at or after `value` (at the very end of year 9999,
    where no later bucket start is representable, the last one before it)."""
    offset = (value - BUCKET_ORIGIN) % step
    if not offset:
        return value
    try:
        return value - offset + step
    except OverflowError:
        return value - offset


def full_days(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[first, stop): the UTC days lying wholly in [start, end), which an aggregate
    can answer; the hours of [start, end) outside them are aggregated from the raw
    rows. Empty (first == stop == start) when no whole day fits."""
    first = bucket_ceil(start, DAY)
    stop = end - (end - BUCKET_ORIGIN) % DAY
    if first >= stop:
        return start, start
    return first, stop


# Is TimescaleDB in this database, and are the real-time daily aggregates of
# migration 0014 (sums and counts, `materialized_only = false`) there?
_EXTENSION = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"
_REALTIME_AGGREGATES = """
SELECT a.view_name::text
FROM timescaledb_information.continuous_aggregates a
JOIN information_schema.columns c
  ON c.table_schema = a.view_schema AND c.table_name = a.view_name
WHERE a.view_schema = 'public' AND NOT a.materialized_only
  AND ((a.view_name = 'crypto_prices_daily' AND c.column_name = 'from_binance')
       OR (a.view_name = 'weather_historic_daily' AND c.column_name = 'temperature_sum'))
  -- the catalog tables `fresh_aggregate_days_sql` reads (internal to TimescaleDB:
  -- a release that renames them sends the gateway down the plain path, not to 500s)
  AND to_regclass('_timescaledb_catalog.continuous_agg') IS NOT NULL
  AND to_regclass('_timescaledb_catalog.continuous_aggs_hypertable_invalidation_log')
      IS NOT NULL
  AND to_regclass('_timescaledb_catalog.continuous_aggs_materialization_invalidation_log')
      IS NOT NULL
  AND to_regprocedure('_timescaledb_functions.to_unix_microseconds(timestamptz)') IS NOT NULL
"""


def fresh_aggregate_days_sql(view: str, key: str) -> str:
    """A CTE `fresh` of `view`'s rows matching `key` (an SQL condition on the
    view's columns, parameters included) with `bucket` in [$first, $stop) given as
    the condition's own parameters, leaving out every day that rows written since
    its materialization (a backfill below the watermark) have invalidated: those
    wait in TimescaleDB's invalidation logs until the next refresh, and until then
    the aggregate answers the old materialization, so such days are aggregated
    from the raw rows like the partial days at the window's edges. Days above the
    watermark are already computed at query time; they go the raw way too."""
    return f"""
stale AS (
    SELECT l.lowest_modified_value AS low, l.greatest_modified_value AS high
    FROM _timescaledb_catalog.continuous_agg a
    JOIN _timescaledb_catalog.continuous_aggs_hypertable_invalidation_log l
      ON l.hypertable_id = a.raw_hypertable_id
    WHERE a.user_view_schema = 'public' AND a.user_view_name = '{view}'
    UNION ALL
    SELECT m.lowest_modified_value, m.greatest_modified_value
    FROM _timescaledb_catalog.continuous_agg a
    JOIN _timescaledb_catalog.continuous_aggs_materialization_invalidation_log m
      ON m.materialization_id = a.mat_hypertable_id
    WHERE a.user_view_schema = 'public' AND a.user_view_name = '{view}'
), fresh AS MATERIALIZED (
    SELECT d.*
    FROM {view} d
    WHERE {key}
      AND NOT EXISTS (
          SELECT 1 FROM stale
          WHERE stale.low < _timescaledb_functions.to_unix_microseconds(d.bucket + INTERVAL '1 day')
            AND stale.high >= _timescaledb_functions.to_unix_microseconds(d.bucket))
)"""  # noqa: S608 - constants only


async def series_path(pool: asyncpg.Pool) -> SeriesPath:
    """Ask the database which aggregation path it offers (once, at start-up)."""
    async with pool.acquire() as connection:
        if not await connection.fetchval(_EXTENSION):
            return SeriesPath(False, False, False)
        names = {r[0] for r in await connection.fetch(_REALTIME_AGGREGATES)}
    return SeriesPath(
        timescaledb=True,
        crypto_daily_aggregate="crypto_prices_daily" in names,
        weather_daily_aggregate="weather_historic_daily" in names,
    )


async def fetchrow_without_jit(
    pool: asyncpg.Pool, query: str, *arguments: object
) -> asyncpg.Record | None:
    """`fetchrow` with JIT off for this statement. The aggregate queries' plans
    carry a high cost estimate (an index scan of every chunk per day the aggregate
    cannot answer, although there are hardly ever any), so PostgreSQL would JIT-compile
    them: about a second of compiling to save nothing."""
    async with pool.acquire() as connection, connection.transaction(readonly=True):
        await connection.execute("SET LOCAL jit = off")
        return await connection.fetchrow(query, *arguments)
