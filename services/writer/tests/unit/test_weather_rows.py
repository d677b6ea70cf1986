"""Weather observations as upsert columns: one row per time in time order,
units as sent, `raw` as compact JSON text (NaN refused), and the stored event."""

from __future__ import annotations

import json
import math
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ticktide_common.messages import WeatherObservationsV1, WeatherObservationV1
from ticktide_writer.weather_rows import (
    raw_json,
    unique_observations,
    weather_columns,
    weather_stored_event,
)

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def observation(hour: int, temperature: float | None = 12.5, **raw: object) -> WeatherObservationV1:
    return WeatherObservationV1(
        t=T0 + timedelta(hours=hour),
        temperature=temperature,
        humidity=81.0,
        pressure=1012.3,
        wind_speed=4.2,
        description="Overcast",
        raw={"time": (T0 + timedelta(hours=hour)).isoformat(), **raw},
    )


def test_unique_observations_keep_the_last_per_time_in_order() -> None:
    rows = unique_observations([observation(2), observation(0), observation(2, 1.0)])
    assert [(o.t.hour, o.temperature) for o in rows] == [(0, 12.5), (2, 1.0)]


def test_columns_carry_units_and_raw_json() -> None:
    columns = weather_columns([observation(1, None, code=3), observation(0, weather="Ääkköset")])
    assert len(columns) == 2
    assert columns.datetimes == [T0, T0 + timedelta(hours=1)]
    assert columns.temperatures == [12.5, None]
    assert columns.humidities == [81.0, 81.0]
    assert columns.pressures == [1012.3, 1012.3]
    assert columns.wind_speeds == [4.2, 4.2]
    assert columns.descriptions == ["Overcast", "Overcast"]
    assert [json.loads(r) for r in columns.raw] == [
        {"time": T0.isoformat(), "weather": "Ääkköset"},
        {"time": (T0 + timedelta(hours=1)).isoformat(), "code": 3},
    ]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_raw_that_json_cannot_hold_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        raw_json({"temperature_2m": bad})


def test_stored_event_spans_the_batch() -> None:
    message = WeatherObservationsV1(
        batch_id=uuid.uuid4(),
        job_id=None,
        location="New York",
        kind="historic",
        source="open-meteo",
        observations=[observation(5), observation(1)],
    )
    event = weather_stored_event(message, 1)
    assert (event.location, event.kind, event.source, event.job_id) == (
        "New York",
        "historic",
        "open-meteo",
        None,
    )
    assert (event.first_t, event.last_t, event.observations, event.rows_changed) == (
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=5),
        2,
        1,
    )
