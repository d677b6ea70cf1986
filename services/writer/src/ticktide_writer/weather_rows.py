"""The pure side of persisting weather observations: the column arrays one
upsert into `weather_current` / `weather_historic` takes (one row per time,
in time order, the provider's `raw` payload as JSON text for jsonb) and the
stored event. No I/O here, so it tests without servers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ticktide_common.messages import (
    WeatherObservationsV1,
    WeatherObservationV1,
    WeatherStoredV1,
)

__all__ = [
    "WeatherColumns",
    "raw_json",
    "unique_observations",
    "weather_columns",
    "weather_stored_event",
]


def raw_json(raw: dict[str, Any]) -> str:
    """The provider's payload as JSON text for a jsonb column. Raises
    ValueError for what JSON cannot hold (NaN, infinities): such a message can
    never be stored, retrying it cannot help."""
    return json.dumps(raw, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def unique_observations(
    observations: Sequence[WeatherObservationV1],
) -> list[WeatherObservationV1]:
    """One observation per time (the last one sent wins), in time order: one
    upsert cannot touch a row twice, and a fixed order keeps concurrent
    writers of the same location from deadlocking."""
    by_time = {observation.t: observation for observation in observations}
    return [by_time[t] for t in sorted(by_time)]


@dataclass(frozen=True)
class WeatherColumns:
    """The observations of one batch as parallel arrays for `unnest`."""

    datetimes: list[datetime]
    temperatures: list[float | None]
    humidities: list[float | None]
    pressures: list[float | None]
    wind_speeds: list[float | None]
    descriptions: list[str | None]
    raw: list[str]

    def __len__(self) -> int:
        return len(self.datetimes)


def weather_columns(observations: Sequence[WeatherObservationV1]) -> WeatherColumns:
    """The unique observations of a batch as columns (°C, %, hPa, m/s as sent)."""
    rows = unique_observations(observations)
    return WeatherColumns(
        datetimes=[o.t for o in rows],
        temperatures=[o.temperature for o in rows],
        humidities=[o.humidity for o in rows],
        pressures=[o.pressure for o in rows],
        wind_speeds=[o.wind_speed for o in rows],
        descriptions=[o.description for o in rows],
        raw=[raw_json(o.raw) for o in rows],
    )


def weather_stored_event(batch: WeatherObservationsV1, rows_changed: int) -> WeatherStoredV1:
    """The event that says a batch is durable; a duplicate reports 0 rows
    changed and is still announced (see `stock_stored_event`)."""
    times = [observation.t for observation in batch.observations]
    return WeatherStoredV1(
        batch_id=batch.batch_id,
        job_id=batch.job_id,
        location=batch.location,
        kind=batch.kind,
        source=batch.source,
        first_t=min(times, default=None),
        last_t=max(times, default=None),
        observations=len(batch.observations),
        rows_changed=rows_changed,
    )
