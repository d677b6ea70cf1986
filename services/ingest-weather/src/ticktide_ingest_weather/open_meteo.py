"""Open-Meteo's answers to observations (pure).

`/v1/forecast?current=...` answers one `current` object with `current_units`;
`/v1/archive?hourly=...` answers column-oriented `hourly` arrays (one `time`
array and one array per variable) with `hourly_units`. Values are normalised by
the units block (°C, %, hPa, m/s; a missing block means Open-Meteo's defaults),
the description comes from the WMO `weather_code`, and an hour whose measures
are all null (the archive lags a few days behind) is not data and is skipped.
Each observation's `raw` is that hour's value of every column plus the units.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ticktide_common.messages import WeatherObservationV1
from ticktide_common.upstream import (
    UpstreamEmptyError,
    UpstreamFormatError,
    UpstreamRejectedError,
)
from ticktide_ingest_weather.units import (
    UnitError,
    to_celsius,
    to_hpa,
    to_meters_per_second,
    to_percent,
)
from ticktide_ingest_weather.wmo import describe_wmo_code

__all__ = [
    "PROVIDER",
    "VARIABLES",
    "error_reason",
    "parse_current",
    "parse_hourly",
    "parse_time",
]

PROVIDER = "open-meteo"
TEMPERATURE, HUMIDITY, PRESSURE = "temperature_2m", "relative_humidity_2m", "pressure_msl"
SURFACE_PRESSURE, WIND, CODE = "surface_pressure", "wind_speed_10m", "weather_code"
VARIABLES = (TEMPERATURE, HUMIDITY, PRESSURE, SURFACE_PRESSURE, WIND, CODE)
_MEASURES = VARIABLES
_DEFAULT_UNITS = {
    TEMPERATURE: "°C",
    HUMIDITY: "%",
    PRESSURE: "hPa",
    SURFACE_PRESSURE: "hPa",
    WIND: "km/h",
}


def error_reason(payload: object) -> str | None:
    """The `reason` of Open-Meteo's error body `{"error": true, "reason": ...}`."""
    if isinstance(payload, dict) and payload.get("error") is True:
        return str(payload.get("reason", "no reason given"))
    return None


def parse_time(value: object, utc_offset_seconds: int = 0) -> datetime:
    """`2024-01-01T12:00` (local to the answer's offset) or unix seconds, as UTC."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        raise UpstreamFormatError(f"Open-Meteo time {value!r} is not a string")
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        raise UpstreamFormatError(f"Open-Meteo time {value!r} is not ISO-8601") from None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return (local - timedelta(seconds=utc_offset_seconds)).replace(tzinfo=UTC)


def _number(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UpstreamFormatError(f"Open-Meteo {name} {value!r} is not a number")
    return float(value)


def _envelope(payload: object) -> dict[str, Any]:
    reason = error_reason(payload)
    if reason is not None:
        raise UpstreamRejectedError(PROVIDER, 400, reason)
    if not isinstance(payload, dict):
        raise UpstreamFormatError(f"Open-Meteo answered {type(payload).__name__}, not an object")
    return payload


def _offset(payload: dict[str, Any]) -> int:
    offset = payload.get("utc_offset_seconds", 0)
    if not isinstance(offset, int):
        raise UpstreamFormatError(f"Open-Meteo utc_offset_seconds {offset!r}")
    return offset


def _observation(
    t: datetime, values: dict[str, float | None], units: dict[str, Any], raw: dict[str, Any]
) -> WeatherObservationV1:
    def unit(name: str) -> str:
        return str(units.get(name, _DEFAULT_UNITS.get(name, "")))

    try:
        pressure = values.get(PRESSURE)
        pressure_unit = unit(PRESSURE)
        if pressure is None:  # only surface pressure was asked for
            pressure, pressure_unit = values.get(SURFACE_PRESSURE), unit(SURFACE_PRESSURE)
        return WeatherObservationV1(
            t=t,
            temperature=to_celsius(values.get(TEMPERATURE), unit(TEMPERATURE)),
            humidity=to_percent(values.get(HUMIDITY), unit(HUMIDITY)),
            pressure=to_hpa(pressure, pressure_unit),
            wind_speed=to_meters_per_second(values.get(WIND), unit(WIND)),
            description=describe_wmo_code(values.get(CODE)),
            raw=raw,
        )
    except UnitError as exc:
        raise UpstreamFormatError(f"Open-Meteo: {exc}") from None


def parse_current(payload: object) -> WeatherObservationV1:
    """The `current` block of a `/v1/forecast` answer."""
    body = _envelope(payload)
    current = body.get("current")
    if not isinstance(current, dict) or "time" not in current:
        raise UpstreamEmptyError("Open-Meteo answered no `current` block")
    units = body.get("current_units") or {}
    if not isinstance(units, dict):
        raise UpstreamFormatError("Open-Meteo current_units is not an object")
    values = {name: _number(name, current.get(name)) for name in _MEASURES}
    if all(value is None for value in values.values()):
        raise UpstreamEmptyError("Open-Meteo answered a `current` block without values")
    t = parse_time(current["time"], _offset(body))
    return _observation(t, values, units, {**current, "units": units})


def parse_hourly(
    payload: object, start: datetime | None = None, end: datetime | None = None
) -> list[WeatherObservationV1]:
    """Hours of an `hourly` answer with `start <= t < end` (when given), oldest
    first, without the hours whose measures are all null."""
    body = _envelope(payload)
    hourly = body.get("hourly")
    if not isinstance(hourly, dict):
        raise UpstreamEmptyError("Open-Meteo answered no `hourly` block")
    times = hourly.get("time")
    if not isinstance(times, list):
        raise UpstreamFormatError("Open-Meteo hourly.time is not an array")
    if not times:
        raise UpstreamEmptyError("Open-Meteo answered no hours")
    units = body.get("hourly_units") or {}
    if not isinstance(units, dict):
        raise UpstreamFormatError("Open-Meteo hourly_units is not an object")
    columns = {name: column for name, column in hourly.items() if name != "time"}
    for name, column in columns.items():
        if not isinstance(column, list) or len(column) != len(times):
            raise UpstreamFormatError(f"Open-Meteo hourly.{name} does not match hourly.time")
    offset = _offset(body)
    observations: list[WeatherObservationV1] = []
    for index, stamp in enumerate(times):
        t = parse_time(stamp, offset)
        if (start is not None and t < start) or (end is not None and t >= end):
            continue
        values = {
            name: _number(name, columns.get(name, [None] * len(times))[index]) for name in _MEASURES
        }
        if all(value is None for value in values.values()):
            continue
        raw: dict[str, Any] = {"time": stamp}
        raw.update({name: column[index] for name, column in columns.items()})
        raw["units"] = units
        observations.append(_observation(t, values, units, raw))
    observations.sort(key=lambda observation: observation.t)
    return observations
