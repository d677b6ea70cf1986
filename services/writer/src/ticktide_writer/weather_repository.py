"""Every SQL statement of persisting weather observations.

One batch is one transaction (`WeatherTransaction`): claim its id in
`ingest_batches`, then upsert all its observations with ONE statement over
`unnest`ed arrays into `weather_current` (kind "current") or
`weather_historic` (kind "historic"), keyed by (location, datetime). The
provider's payload goes into `weather_data` as jsonb.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from ticktide_common.messages import WeatherKind
from ticktide_writer.repository import Connection, claim_batch
from ticktide_writer.service import rows_changed_from_status
from ticktide_writer.weather_rows import WeatherColumns

__all__ = ["WeatherRepository", "WeatherTransaction", "WEATHER_TABLES"]

WEATHER_TABLES: dict[str, str] = {"current": "weather_current", "historic": "weather_historic"}


def _upsert(table: str) -> str:
    # A row changes only when a value differs; simulated data never replaces a
    # row from a real source, while real data does replace simulated rows.
    return f"""
INSERT INTO {table} AS w (location, datetime, temperature, humidity, pressure, wind_speed,
                          description, source, weather_data)
SELECT $1::text, o.datetime, o.temperature, o.humidity, o.pressure, o.wind_speed,
       o.description, $8::text, o.weather_data::jsonb
FROM unnest($2::timestamptz[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
            $7::text[], $9::text[])
     AS o(datetime, temperature, humidity, pressure, wind_speed, description, weather_data)
ON CONFLICT (location, datetime) DO UPDATE SET
    temperature = EXCLUDED.temperature,
    humidity = EXCLUDED.humidity,
    pressure = EXCLUDED.pressure,
    wind_speed = EXCLUDED.wind_speed,
    description = EXCLUDED.description,
    source = EXCLUDED.source,
    weather_data = EXCLUDED.weather_data,
    updated_at = now()
WHERE NOT (EXCLUDED.source = 'simulated' AND w.source <> 'simulated')
  AND (w.temperature, w.humidity, w.pressure, w.wind_speed, w.description, w.source,
       w.weather_data)
      IS DISTINCT FROM
      (EXCLUDED.temperature, EXCLUDED.humidity, EXCLUDED.pressure, EXCLUDED.wind_speed,
       EXCLUDED.description, EXCLUDED.source, EXCLUDED.weather_data)
"""  # noqa: S608 - the table names are module constants; values are parameters


_UPSERT_BY_KIND: dict[str, str] = {kind: _upsert(table) for kind, table in WEATHER_TABLES.items()}


class WeatherTransaction:
    """The statements of one open weather-batch transaction on one connection."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def claim_batch(
        self, batch_id: uuid.UUID, job_id: uuid.UUID | None, observations: int
    ) -> bool:
        """Record the batch; False when it was stored before."""
        return await claim_batch(self._connection, batch_id, job_id, observations)

    async def upsert_observations(
        self, kind: WeatherKind, location: str, columns: WeatherColumns, source: str
    ) -> int:
        """Insert or update the observations of one location; returns rows changed."""
        if not len(columns):
            return 0
        status = await self._connection.execute(
            _UPSERT_BY_KIND[kind],
            location,
            columns.datetimes,
            columns.temperatures,
            columns.humidities,
            columns.pressures,
            columns.wind_speeds,
            columns.descriptions,
            source,
            columns.raw,
        )
        return rows_changed_from_status(status)


class WeatherRepository:
    """The weather writer's access to PostgreSQL, over a pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[WeatherTransaction]:
        """One transaction; commits when the block ends without an exception."""
        async with self._pool.acquire() as connection, connection.transaction():
            yield WeatherTransaction(connection)
