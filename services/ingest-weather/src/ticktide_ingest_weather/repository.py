"""Every SQL statement of ingest-weather (parameterised, asyncpg).

The configured locations (upserted into `weather_locations` at start, looked
up by name for a backfill command), the newest stored historic hour of a
location, and the scheduler's advisory lock.
The job transitions themselves live in `ticktide_common.ingest_lifecycle`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ticktide_common.db import advisory_unlock, try_advisory_lock
from ticktide_common.settings import WeatherLocation

__all__ = [
    "advisory_unlock",
    "count_historic_hours",
    "find_location",
    "last_historic_hour",
    "try_advisory_lock",
    "upsert_locations",
]

Connection = asyncpg.Connection | PoolConnectionProxy


async def upsert_locations(pool: asyncpg.Pool, locations: Iterable[WeatherLocation]) -> None:
    """Make the configured locations known (and active) with their coordinates."""
    await pool.executemany(
        """INSERT INTO weather_locations (name, latitude, longitude) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE
               SET latitude = excluded.latitude, longitude = excluded.longitude,
                   is_active = true""",
        [(loc.name, loc.latitude, loc.longitude) for loc in locations],
    )


async def find_location(pool: asyncpg.Pool, name: str) -> WeatherLocation | None:
    """An active location by name (case-insensitive), as stored."""
    row = await pool.fetchrow(
        """SELECT name, latitude, longitude FROM weather_locations
           WHERE lower(name) = lower($1) AND is_active ORDER BY name = $1 DESC LIMIT 1""",
        name,
    )
    if row is None:
        return None
    return WeatherLocation(row["name"], float(row["latitude"]), float(row["longitude"]))


async def last_historic_hour(pool: asyncpg.Pool, location: str) -> datetime | None:
    """The newest hour stored for `location` in `weather_historic` (any source)."""
    value: datetime | None = await pool.fetchval(
        "SELECT max(datetime) FROM weather_historic WHERE location = $1", location
    )
    return value


async def count_historic_hours(
    pool: asyncpg.Pool, location: str, start: datetime, end: datetime
) -> int:
    """Stored hours of `location` in `[start, end)`."""
    value = await pool.fetchval(
        """SELECT count(*) FROM weather_historic
           WHERE location = $1 AND datetime >= $2 AND datetime < $3""",
        location,
        start,
        end,
    )
    return int(value or 0)
