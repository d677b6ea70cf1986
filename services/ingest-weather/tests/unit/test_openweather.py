"""OpenWeather parsers on answers in the provider's exact format (Kelvin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ticktide_common.upstream import UpstreamEmptyError, UpstreamFormatError
from ticktide_ingest_weather.openweather import error_message, parse_current, parse_timemachine

CURRENT: dict[str, Any] = {
    "coord": {"lon": 24.9384, "lat": 60.1699},
    "weather": [{"id": 501, "main": "Rain", "description": "moderate rain", "icon": "10d"}],
    "base": "stations",
    "main": {
        "temp": 298.48,
        "feels_like": 298.74,
        "temp_min": 297.56,
        "temp_max": 300.05,
        "pressure": 1015,
        "humidity": 64,
        "sea_level": 1015,
        "grnd_level": 933,
    },
    "visibility": 10000,
    "wind": {"speed": 0.62, "deg": 349, "gust": 1.18},
    "rain": {"1h": 3.16},
    "clouds": {"all": 100},
    "dt": 1661870592,
    "sys": {"type": 2, "id": 2075663, "country": "FI", "sunrise": 1661834187, "sunset": 1661882248},
    "timezone": 10800,
    "id": 658225,
    "name": "Helsinki",
    "cod": 200,
}

TIMEMACHINE = {
    "lat": 52.2297,
    "lon": 21.0122,
    "timezone": "Europe/Warsaw",
    "timezone_offset": 3600,
    "data": [
        {
            "dt": 1645887600,
            "sunrise": 1645853361,
            "sunset": 1645891727,
            "temp": 279.13,
            "feels_like": 276.44,
            "pressure": 1029,
            "humidity": 64,
            "dew_point": 272.88,
            "uvi": 0.06,
            "clouds": 0,
            "visibility": 10000,
            "wind_speed": 3.6,
            "wind_deg": 340,
            "weather": [{"id": 800, "main": "Clear", "description": "clear sky", "icon": "01d"}],
        }
    ],
}


def test_current_kelvin_to_celsius() -> None:
    observation = parse_current(CURRENT)
    assert observation.t == datetime.fromtimestamp(1661870592, UTC)
    assert observation.temperature == 298.48 - 273.15
    assert observation.humidity == 64
    assert observation.pressure == 1015
    assert observation.wind_speed == 0.62
    assert observation.description == "moderate rain"
    assert observation.raw == CURRENT


def test_current_metric_units() -> None:
    payload = {**CURRENT, "main": {**CURRENT["main"], "temp": 25.33}}  # type: ignore[dict-item]
    assert parse_current(payload, units="metric").temperature == 25.33


def test_timemachine_hour() -> None:
    (observation,) = parse_timemachine(TIMEMACHINE)
    assert observation.t == datetime(2022, 2, 26, 15, tzinfo=UTC)
    assert observation.temperature == 279.13 - 273.15
    assert observation.wind_speed == 3.6
    assert observation.description == "clear sky"
    assert observation.raw == TIMEMACHINE["data"][0]  # type: ignore[index]


def test_error_bodies() -> None:
    message = "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info."
    assert error_message({"cod": 401, "message": message}) == message
    assert error_message({"cod": "404", "message": "city not found"}) == "city not found"
    assert error_message(CURRENT) is None


def test_empty_and_malformed() -> None:
    with pytest.raises(UpstreamEmptyError):
        parse_current({})
    with pytest.raises(UpstreamEmptyError):
        parse_timemachine({**TIMEMACHINE, "data": []})
    with pytest.raises(UpstreamFormatError):
        parse_timemachine({**TIMEMACHINE, "data": [{"dt": "yesterday", "temp": 1}]})
    with pytest.raises(UpstreamFormatError):
        parse_current({**CURRENT, "main": {"temp": "hot"}})
