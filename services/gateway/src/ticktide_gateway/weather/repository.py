"""Every SQL statement of the gateway's weather endpoints; all parameterised.

Observations and daily aggregates leave PostgreSQL as ready JSON arrays
(`json_build_object`, whose float8 output is the shortest text that reads back
as the same double); days are UTC days, aggregated in SQL: from the raw hours
on plain PostgreSQL, from the real-time continuous aggregate where TimescaleDB
has it (`aggregate_paths`), with the same digits either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from ticktide_gateway.aggregate_paths import (
    SeriesPath,
    fetchrow_without_jit,
    fresh_aggregate_days_sql,
    full_days,
)

__all__ = [
    "WEATHER_SOURCES",
    "JsonRows",
    "canonical_location",
    "known_locations",
    "current_observation",
    "historic_json",
    "daily_json",
]

WEATHER_SOURCES = ("open-meteo", "openweather", "simulated")
_SOURCE_FLAGS = """
       coalesce(bool_or(source = 'open-meteo'), false) AS from_open_meteo,
       coalesce(bool_or(source = 'openweather'), false) AS from_openweather,
       coalesce(bool_or(source = 'simulated'), false) AS from_simulated"""


@dataclass(frozen=True)
class JsonRows:
    """A JSON array as text, and the sources of its rows."""

    array: str
    sources: list[str]


def _json_rows(row: asyncpg.Record | None) -> JsonRows:
    assert row is not None
    flags = (row["from_open_meteo"], row["from_openweather"], row["from_simulated"])
    sources = [name for name, present in zip(WEATHER_SOURCES, flags, strict=True) if present]
    return JsonRows(row["rows"], sources)


_CANONICAL = "SELECT name FROM weather_locations WHERE lower(name) = lower($1) LIMIT 1"
_KNOWN = "SELECT name FROM weather_locations ORDER BY name"

_OBSERVATION = """json_build_object(
    't', to_char(datetime AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'temperature', temperature, 'humidity', humidity, 'pressure', pressure,
    'wind_speed', wind_speed, 'description', description)"""

_CURRENT = f"""
SELECT {_OBSERVATION}::text AS observation, source
FROM weather_current WHERE location = $1
ORDER BY datetime DESC LIMIT 1
"""  # noqa: S608 - constants only

_HISTORIC = f"""
SELECT coalesce(json_agg({_OBSERVATION} ORDER BY datetime), '[]')::text AS rows, {_SOURCE_FLAGS}
FROM weather_historic
WHERE location = $1 AND datetime >= $2 AND datetime < $3
"""  # noqa: S608 - constants only

# A day's means are sum / count of numeric sums (exact whatever order the rows
# are added in), derived by this one expression whether the day's sums come
# from the raw hours or from `weather_historic_daily`: both paths print the same
# float8 digits. A float8 avg() varies in its last digit with the summing order.
_DAY_COLUMNS = """
    min(temperature) AS temperature_min, max(temperature) AS temperature_max,
    sum(temperature::numeric) AS temperature_sum, count(temperature) AS temperature_n,
    sum(humidity::numeric) AS humidity_sum, count(humidity) AS humidity_n,
    sum(pressure::numeric) AS pressure_sum, count(pressure) AS pressure_n,
    sum(wind_speed::numeric) AS wind_speed_sum, count(wind_speed) AS wind_speed_n,
    count(*) AS hours,"""
_AGGREGATE_COLUMNS = """bucket, temperature_min, temperature_max,
    temperature_sum, temperature_n, humidity_sum, humidity_n, pressure_sum, pressure_n,
    wind_speed_sum, wind_speed_n, hours, from_open_meteo, from_openweather, from_simulated"""


def _mean(column: str) -> str:
    return f"({column}_sum / nullif({column}_n, 0))::float8"


_DAYS_JSON = f"""
SELECT coalesce(json_agg(json_build_object(
           'date', to_char(day AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
           'temperature_min', temperature_min, 'temperature_mean', {_mean("temperature")},
           'temperature_max', temperature_max, 'humidity_mean', {_mean("humidity")},
           'pressure_mean', {_mean("pressure")}, 'wind_speed_mean', {_mean("wind_speed")},
           'hours', hours) ORDER BY day), '[]')::text AS rows,
       coalesce(bool_or(from_open_meteo), false) AS from_open_meteo,
       coalesce(bool_or(from_openweather), false) AS from_openweather,
       coalesce(bool_or(from_simulated), false) AS from_simulated
FROM ("""  # noqa: S608 - constants only

# Plain PostgreSQL: every day from the raw hours.
_DAILY = f"""{_DAYS_JSON}
    SELECT date_bin(INTERVAL '1 day', datetime, TIMESTAMPTZ '2000-01-03 00:00+00') AS day,
           {_DAY_COLUMNS} {_SOURCE_FLAGS}
    FROM weather_historic
    WHERE location = $1 AND datetime >= $2 AND datetime < $3
    GROUP BY 1
) days
"""  # noqa: S608 - constants only

# TimescaleDB: the whole days [$4, $5) that `weather_historic_daily` holds
# materialized and valid; every other day of the window (partial days at its
# edges, the newest days, days a backfill invalidated) from the raw hours, read
# day by day by the index, so a long window costs only its missing days.
_DAILY_FROM_AGGREGATE = (
    "WITH"  # noqa: S608 - constants only
    + fresh_aggregate_days_sql(
        "weather_historic_daily", "d.location = $1 AND d.bucket >= $4 AND d.bucket < $5"
    )
    + """, missing AS MATERIALIZED (
    SELECT day FROM generate_series(time_bucket(INTERVAL '1 day', $2::timestamptz),
                                    $3::timestamptz - INTERVAL '1 microsecond',
                                    INTERVAL '1 day') day
    WHERE day NOT IN (SELECT bucket FROM fresh)
)"""
    + f"""{_DAYS_JSON}
    SELECT missing.day, {_DAY_COLUMNS} {_SOURCE_FLAGS}
    FROM missing
    JOIN weather_historic
      ON location = $1 AND datetime >= greatest(missing.day, $2)
     AND datetime < least(missing.day + INTERVAL '1 day', $3)
    GROUP BY 1
    UNION ALL
    SELECT {_AGGREGATE_COLUMNS}
    FROM fresh
) days
"""  # noqa: S608 - constants only
)


async def canonical_location(pool: asyncpg.Pool, name: str) -> str | None:
    """The configured name matching `name` case-insensitively."""
    return await pool.fetchval(_CANONICAL, name)  # type: ignore[no-any-return]


async def known_locations(pool: asyncpg.Pool) -> list[str]:
    return [r["name"] for r in await pool.fetch(_KNOWN)]


async def current_observation(pool: asyncpg.Pool, location: str) -> tuple[str, str] | None:
    """(the newest current observation as JSON, its source), None when none yet."""
    row = await pool.fetchrow(_CURRENT, location)
    return (row["observation"], row["source"]) if row is not None else None


async def historic_json(
    pool: asyncpg.Pool, location: str, start: datetime, end: datetime
) -> JsonRows:
    """Hourly observations of [start, end), oldest first."""
    return _json_rows(await pool.fetchrow(_HISTORIC, location, start, end))


async def daily_json(
    pool: asyncpg.Pool, location: str, start: datetime, end: datetime, path: SeriesPath
) -> JsonRows:
    """UTC-day aggregates of the hourly observations in [start, end); the same text
    from `weather_historic_daily` (where `path` has it) as from the raw hours."""
    if not path.weather_daily_aggregate:
        return _json_rows(await pool.fetchrow(_DAILY, location, start, end))
    first, stop = full_days(start, end)
    return _json_rows(
        await fetchrow_without_jit(pool, _DAILY_FROM_AGGREGATE, location, start, end, first, stop)
    )
