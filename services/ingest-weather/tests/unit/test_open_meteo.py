"""Open-Meteo parsers on answers in the provider's exact format."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from ticktide_common.upstream import (
    UpstreamEmptyError,
    UpstreamFormatError,
    UpstreamRejectedError,
)
from ticktide_ingest_weather.open_meteo import error_reason, parse_current, parse_hourly

CURRENT: dict[str, Any] = {
    "latitude": 60.16,
    "longitude": 24.94,
    "generationtime_ms": 0.0431537628173828,
    "utc_offset_seconds": 0,
    "timezone": "GMT",
    "timezone_abbreviation": "GMT",
    "elevation": 6.0,
    "current_units": {
        "time": "iso8601",
        "interval": "seconds",
        "temperature_2m": "°C",
        "relative_humidity_2m": "%",
        "pressure_msl": "hPa",
        "surface_pressure": "hPa",
        "wind_speed_10m": "km/h",
        "weather_code": "wmo code",
    },
    "current": {
        "time": "2024-01-01T12:00",
        "interval": 900,
        "temperature_2m": -3.4,
        "relative_humidity_2m": 91,
        "pressure_msl": 1002.3,
        "surface_pressure": 1001.5,
        "wind_speed_10m": 18.0,
        "weather_code": 71,
    },
}

ARCHIVE: dict[str, Any] = {
    "latitude": 60.16,
    "longitude": 24.94,
    "generationtime_ms": 0.51,
    "utc_offset_seconds": 0,
    "timezone": "GMT",
    "timezone_abbreviation": "GMT",
    "elevation": 6.0,
    "hourly_units": {
        "time": "iso8601",
        "temperature_2m": "°C",
        "relative_humidity_2m": "%",
        "pressure_msl": "hPa",
        "surface_pressure": "hPa",
        "wind_speed_10m": "km/h",
        "weather_code": "wmo code",
    },
    "hourly": {
        "time": ["2024-01-01T00:00", "2024-01-01T01:00", "2024-01-01T02:00", "2024-01-01T03:00"],
        "temperature_2m": [-5.1, -5.3, None, None],
        "relative_humidity_2m": [88, 89, None, 90],
        "pressure_msl": [1010.2, 1010.0, None, None],
        "surface_pressure": [1009.4, 1009.2, None, None],
        "wind_speed_10m": [7.2, 10.8, None, None],
        "weather_code": [3, 0, None, None],
    },
}


def test_current_normalised_by_units() -> None:
    observation = parse_current(CURRENT)
    assert observation.t == datetime(2024, 1, 1, 12, tzinfo=UTC)
    assert observation.temperature == -3.4
    assert observation.humidity == 91
    assert observation.pressure == 1002.3
    assert observation.wind_speed == 18.0 / 3.6
    assert observation.description == "Slight snow fall"
    assert observation.raw["interval"] == 900
    assert observation.raw["units"]["wind_speed_10m"] == "km/h"


def test_current_in_fahrenheit_and_ms() -> None:
    payload = copy.deepcopy(CURRENT)
    payload["current_units"]["temperature_2m"] = "°F"
    payload["current_units"]["wind_speed_10m"] = "m/s"
    payload["current"]["temperature_2m"] = 41.0
    payload["current"]["wind_speed_10m"] = 5.0
    observation = parse_current(payload)
    assert observation.temperature == pytest.approx(5.0)
    assert observation.wind_speed == 5.0


def test_local_time_with_offset_becomes_utc() -> None:
    payload = copy.deepcopy(CURRENT)
    payload["utc_offset_seconds"] = 7200
    assert parse_current(payload).t == datetime(2024, 1, 1, 10, tzinfo=UTC)


def test_hourly_skips_all_null_hours_and_keeps_partial_ones() -> None:
    observations = parse_hourly(ARCHIVE)
    assert [o.t.hour for o in observations] == [0, 1, 3]
    first, second, partial = observations
    assert first.temperature == -5.1 and first.wind_speed == 7.2 / 3.6
    assert first.pressure == 1010.2 and first.description == "Overcast"
    assert second.description == "Clear sky"
    assert partial.humidity == 90 and partial.temperature is None
    assert first.raw == {
        "time": "2024-01-01T00:00",
        "temperature_2m": -5.1,
        "relative_humidity_2m": 88,
        "pressure_msl": 1010.2,
        "surface_pressure": 1009.4,
        "wind_speed_10m": 7.2,
        "weather_code": 3,
        "units": ARCHIVE["hourly_units"],
    }


def test_hourly_range_filter() -> None:
    start, end = datetime(2024, 1, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 3, tzinfo=UTC)
    assert [o.t.hour for o in parse_hourly(ARCHIVE, start, end)] == [1]


def test_error_body_is_a_rejection_with_the_reason() -> None:
    body = {"error": True, "reason": "Parameter 'start_date' is out of allowed range"}
    assert error_reason(body) == body["reason"]
    with pytest.raises(UpstreamRejectedError, match="out of allowed range"):
        parse_hourly(body)
    assert error_reason(ARCHIVE) is None


def test_empty_answers() -> None:
    payload = copy.deepcopy(ARCHIVE)
    payload["hourly"] = {k: [] for k in payload["hourly"]}
    with pytest.raises(UpstreamEmptyError):
        parse_hourly(payload)
    with pytest.raises(UpstreamEmptyError):
        parse_hourly({k: v for k, v in ARCHIVE.items() if k != "hourly"})
    with pytest.raises(UpstreamEmptyError):
        parse_current({k: v for k, v in CURRENT.items() if k != "current"})


def test_malformed_answers() -> None:
    payload = copy.deepcopy(ARCHIVE)
    payload["hourly"]["temperature_2m"] = [1.0]
    with pytest.raises(UpstreamFormatError, match="does not match"):
        parse_hourly(payload)
    payload = copy.deepcopy(ARCHIVE)
    payload["hourly"]["temperature_2m"][0] = "warm"
    with pytest.raises(UpstreamFormatError, match="not a number"):
        parse_hourly(payload)
    payload = copy.deepcopy(ARCHIVE)
    payload["hourly_units"]["wind_speed_10m"] = "furlongs"
    with pytest.raises(UpstreamFormatError, match="unknown wind"):
        parse_hourly(payload)
    with pytest.raises(UpstreamFormatError):
        parse_hourly([1, 2, 3])
