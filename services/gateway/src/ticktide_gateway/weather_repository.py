"""Every SQL statement of the gateway's weather endpoints; all parameterised.

Observations and daily aggregates leave PostgreSQL as ready JSON arrays
(`json_build_object`, whose float8 output is the shortest text that reads back
as the same double); days are UTC days, aggregated in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

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

_DAILY = f"""
SELECT coalesce(json_agg(json_build_object(
           'date', to_char(day, 'YYYY-MM-DD'),
           'temperature_min', temperature_min, 'temperature_mean', temperature_mean,
           'temperature_max', temperature_max, 'humidity_mean', humidity_mean,
           'pressure_mean', pressure_mean, 'wind_speed_mean', wind_speed_mean,
           'hours', hours) ORDER BY day), '[]')::text AS rows,
       coalesce(bool_or(from_open_meteo), false) AS from_open_meteo,
       coalesce(bool_or(from_openweather), false) AS from_openweather,
       coalesce(bool_or(from_simulated), false) AS from_simulated
FROM (
    SELECT date_trunc('day', datetime AT TIME ZONE 'UTC') AS day,
           min(temperature) AS temperature_min, avg(temperature) AS temperature_mean,
           max(temperature) AS temperature_max, avg(humidity) AS humidity_mean,
           avg(pressure) AS pressure_mean, avg(wind_speed) AS wind_speed_mean,
           count(*) AS hours, {_SOURCE_FLAGS}
    FROM weather_historic
    WHERE location = $1 AND datetime >= $2 AND datetime < $3
    GROUP BY 1
) days
"""  # noqa: S608 - constants only


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


async def daily_json(pool: asyncpg.Pool, location: str, start: datetime, end: datetime) -> JsonRows:
    """UTC-day aggregates of the hourly observations in [start, end)."""
    return _json_rows(await pool.fetchrow(_DAILY, location, start, end))
