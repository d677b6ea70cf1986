"""The deterministic simulated weather of the contract (pure).

Used when the provider is unreachable and `TICKTIDE_SIMULATED_FALLBACK=1`. An
observation is a function of (location, time) only, never of the requested
range, so overlapping requests agree exactly. Temperature follows a seasonal
cycle whose mean and amplitude depend on latitude (opposite seasons south of
the equator), a diurnal cycle peaking mid-afternoon local solar time, a slow
multi-day "weather system" wave with a per-location phase, and seeded hourly
noise; humidity, pressure, wind and a WMO code follow from the same wave.
Rows are labelled `simulated` by their producer and `raw` says so.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from typing import Literal

from ticktide_common.messages import WeatherObservationV1
from ticktide_common.settings import WeatherLocation
from ticktide_ingest_weather.hours import align_hour_down, hours_in
from ticktide_ingest_weather.wmo import describe_wmo_code

__all__ = [
    "SIMULATED_SOURCE",
    "simulated_current",
    "simulated_hours",
    "simulated_observation",
]

SIMULATED_SOURCE: Literal["simulated"] = "simulated"
_CURRENT_STEP = timedelta(minutes=15)  # like Open-Meteo's `current.interval`
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) derived from `parts` (stable across processes)."""
    digest = hashlib.sha256("|".join(str(part) for part in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _noise(key: str, t: datetime) -> float:
    """Smooth noise in [-1, 1): hourly seeded values, linearly interpolated."""
    hours = (t - _EPOCH).total_seconds() / 3600
    base = math.floor(hours)
    frac = hours - base
    left, right = _unit(key, base), _unit(key, base + 1)
    return 2 * (left + (right - left) * frac) - 1


def _system_wave(location: WeatherLocation, t: datetime) -> float:
    """A weather system passing every few days, in [-1, 1]."""
    days = (t - _EPOCH).total_seconds() / 86400
    phase = _unit("phase", location.name) * 2 * math.pi
    return 0.7 * math.sin(2 * math.pi * days / 4.3 + phase) + 0.3 * math.sin(
        2 * math.pi * days / 9.7 + 2 * phase
    )


def simulated_observation(location: WeatherLocation, t: datetime) -> WeatherObservationV1:
    """The simulated weather of `location` at `t` (°C, %, hPa, m/s)."""
    t = t.astimezone(UTC)
    key = f"{location.name}:{location.latitude}:{location.longitude}"
    latitude = abs(location.latitude)
    day_of_year = t.timetuple().tm_yday + t.hour / 24
    # Warmest around day 200 in the north, around day 17 in the south.
    season_phase = 2 * math.pi * (day_of_year - 200) / 365.25
    season = math.cos(season_phase) * (1 if location.latitude >= 0 else -1)
    annual_mean = 28.0 - 0.42 * latitude
    seasonal_amplitude = 0.3 * latitude
    solar_hour = (t.hour + t.minute / 60 + location.longitude / 15) % 24
    diurnal = math.cos(2 * math.pi * (solar_hour - 15) / 24)
    wave = _system_wave(location, t)
    temperature = (
        annual_mean
        + seasonal_amplitude / 2 * season
        + 4.0 * diurnal
        + 3.0 * wave
        + 1.2 * _noise(f"t:{key}", t)
    )
    humidity = 70 - 12 * diurnal + 15 * wave + 5 * _noise(f"h:{key}", t)
    pressure = 1013 - 14 * wave + 2 * _noise(f"p:{key}", t)
    wind = 3.5 + 3.0 * abs(wave) + 1.5 * _noise(f"w:{key}", t)
    humidity = min(100.0, max(15.0, humidity))
    wind = max(0.0, wind)
    code = _weather_code(temperature, humidity, pressure)
    return WeatherObservationV1(
        t=t,
        temperature=round(temperature, 1),
        humidity=round(humidity),
        pressure=round(pressure, 1),
        wind_speed=round(wind, 1),
        description=describe_wmo_code(code),
        raw={"simulated": True, "model": "seasonal+diurnal+noise", "weather_code": code},
    )


def _weather_code(temperature: float, humidity: float, pressure: float) -> int:
    if pressure < 1003 and humidity > 85:
        return 71 if temperature < 0 else 63
    if pressure < 1008 and humidity > 80:
        return 71 if temperature < 0 else 61
    if humidity > 82:
        return 3
    if humidity > 68:
        return 2
    if humidity > 55:
        return 1
    return 0


def simulated_hours(
    location: WeatherLocation, start: datetime, end: datetime
) -> list[WeatherObservationV1]:
    """Every whole hour in `[start, end)`."""
    return [simulated_observation(location, t) for t in hours_in(start, end)]


def simulated_current(location: WeatherLocation, now: datetime) -> WeatherObservationV1:
    """The current simulated reading: the 15-minute slot `now` falls in."""
    hour = align_hour_down(now)
    slot = hour + _CURRENT_STEP * int((now.astimezone(UTC) - hour) / _CURRENT_STEP)
    return simulated_observation(location, slot)
