"""OpenWeather's answers to observations (pure).

Current weather `/data/2.5/weather` answers one object (`main.temp`,
`main.humidity`, `main.pressure`, `wind.speed`, `weather[0].description`,
`dt`); One Call 3.0 `/data/3.0/onecall/timemachine` answers `data: [{dt, temp,
pressure, humidity, wind_speed, weather: [...]}, ...]`. Without a `units`
parameter OpenWeather speaks Kelvin and m/s ("standard"); Kelvin becomes °C as
`k - 273.15`. Errors come as `{"cod": 401, "message": ...}` (`cod` is sometimes
a string). `raw` is the whole current object, or one `data` entry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ticktide_common.messages import WeatherObservationV1
from ticktide_common.upstream import UpstreamEmptyError, UpstreamFormatError
from ticktide_ingest_weather.hours import align_hour_down
from ticktide_ingest_weather.units import to_celsius, to_hpa, to_meters_per_second

__all__ = ["PROVIDER", "error_message", "parse_current", "parse_timemachine"]

PROVIDER = "openweather"
_TEMPERATURE_UNIT = {"standard": "K", "metric": "°C", "imperial": "°F"}
_WIND_UNIT = {"standard": "m/s", "metric": "m/s", "imperial": "mph"}


def error_message(payload: object) -> str | None:
    """The `message` of an error body whose `cod` is not 200."""
    if not isinstance(payload, dict) or "cod" not in payload:
        return None
    if str(payload.get("cod")) == "200":
        return None
    return str(payload.get("message", f"cod {payload.get('cod')}"))


def _number(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UpstreamFormatError(f"OpenWeather {name} {value!r} is not a number")
    return float(value)


def _moment(value: object) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UpstreamFormatError(f"OpenWeather dt {value!r} is not unix seconds")
    return datetime.fromtimestamp(value, UTC)


def _description(weather: object) -> str | None:
    if isinstance(weather, list) and weather and isinstance(weather[0], dict):
        text = weather[0].get("description")
        return str(text)[:200] if text is not None else None
    return None


def _observation(
    t: datetime,
    *,
    temp: object,
    humidity: object,
    pressure: object,
    wind: object,
    weather: object,
    units: str,
    raw: dict[str, Any],
) -> WeatherObservationV1:
    if units not in _TEMPERATURE_UNIT:
        raise UpstreamFormatError(f"OpenWeather units {units!r} unknown")
    return WeatherObservationV1(
        t=t,
        temperature=to_celsius(_number("temp", temp), _TEMPERATURE_UNIT[units]),
        humidity=_number("humidity", humidity),
        pressure=to_hpa(_number("pressure", pressure), "hPa"),
        wind_speed=to_meters_per_second(_number("wind speed", wind), _WIND_UNIT[units]),
        description=_description(weather),
        raw=raw,
    )


def parse_current(payload: object, units: str = "standard") -> WeatherObservationV1:
    """A `/data/2.5/weather` answer (observed at its `dt`)."""
    if not isinstance(payload, dict):
        raise UpstreamFormatError("OpenWeather answered something that is not an object")
    main = payload.get("main")
    if not payload or main is None or "dt" not in payload:
        raise UpstreamEmptyError("OpenWeather answered no current weather")
    if not isinstance(main, dict):
        raise UpstreamFormatError("OpenWeather `main` is not an object")
    wind = payload.get("wind") or {}
    if not isinstance(wind, dict):
        raise UpstreamFormatError("OpenWeather `wind` is not an object")
    return _observation(
        _moment(payload["dt"]),
        temp=main.get("temp"),
        humidity=main.get("humidity"),
        pressure=main.get("pressure"),
        wind=wind.get("speed"),
        weather=payload.get("weather"),
        units=units,
        raw=payload,
    )


def parse_timemachine(payload: object, units: str = "standard") -> list[WeatherObservationV1]:
    """A time-machine answer: each `data` entry as the observation of its hour."""
    if not isinstance(payload, dict):
        raise UpstreamFormatError("OpenWeather answered something that is not an object")
    data = payload.get("data")
    if data is None or data == []:
        raise UpstreamEmptyError("OpenWeather answered no data for the hour")
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise UpstreamFormatError("OpenWeather `data` is not an array of objects")
    observations = [
        _observation(
            align_hour_down(_moment(entry.get("dt"))),
            temp=entry.get("temp"),
            humidity=entry.get("humidity"),
            pressure=entry.get("pressure"),
            wind=entry.get("wind_speed"),
            weather=entry.get("weather"),
            units=units,
            raw=entry,
        )
        for entry in data
    ]
    return sorted(observations, key=lambda observation: observation.t)
