"""A fake Open-Meteo: one real HTTP server answering both `/v1/forecast`
(`current=...`) and `/v1/archive` (`start_date`, `end_date`, `hourly=...`) in
Open-Meteo's format; point OPEN_METEO_BASE_URL and OPEN_METEO_ARCHIVE_URL at
the same `.url`.

Like the real one: wind in km/h unless `wind_speed_unit=ms` (or mph, kn),
°F with `temperature_unit=fahrenheit`, `current.time` is the 15-minute slot,
archive hours at or after `now - archive_lag` are `null`, an unknown variable
or a missing parameter is a 400 `{"error": true, "reason": ...}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from ticktide_ingest_weather.hours import HOUR, align_hour_down
from ticktide_ingest_weather.testing._server import (
    Answer,
    FakeWeatherServer,
    Handler,
    UpstreamCall,
    truth,
)
from ticktide_ingest_weather.wmo import describe_wmo_code

__all__ = ["FakeOpenMeteo", "MeteoHour"]

_WIND = {
    "kmh": ("km/h", 3.6, 1),
    "ms": ("m/s", 1.0, 2),
    "mph": ("mp/h", 1 / 0.44704, 1),
    "kn": ("kn", 3600 / 1852, 1),
}
_VARIABLES = (
    "temperature_2m",
    "relative_humidity_2m",
    "pressure_msl",
    "surface_pressure",
    "wind_speed_10m",
    "weather_code",
)


class _BadRequest(Exception):
    """A request the real Open-Meteo answers 400 with this reason."""


class _Request(NamedTuple):
    lat: float
    lon: float
    wind: str
    fahrenheit: bool
    names: list[str]
    units: dict[str, str]


@dataclass(frozen=True)
class MeteoHour:
    """What the fake serves for one moment, as the ingester asks (°C, wind in m/s):
    exactly the values the ingester stores. All None for a lagged archive hour."""

    t: datetime
    temperature: float | None
    humidity: float | None
    pressure: float | None
    surface_pressure: float | None
    wind_speed: float | None  # m/s, as served with wind_speed_unit=ms
    wind_speed_kmh: float | None  # as served without wind_speed_unit
    weather_code: int | None
    description: str | None


def _values(
    lat: float, lon: float, t: datetime, wind_unit: str, fahrenheit: bool
) -> dict[str, Any]:
    now = truth(lat, lon, t)
    _, factor, places = _WIND[wind_unit]
    celsius = round(now.celsius * 9 / 5 + 32, 1) if fahrenheit else now.celsius
    return {
        "temperature_2m": celsius,
        "relative_humidity_2m": now.humidity,
        "pressure_msl": now.pressure_msl,
        "surface_pressure": now.surface_pressure,
        "wind_speed_10m": round(now.wind_ms * factor, places),
        "weather_code": now.wmo_code,
    }


class FakeOpenMeteo(FakeWeatherServer):
    name = "fake-open-meteo"

    def __init__(self, *, archive_lag: timedelta = timedelta(days=5), **options: Any) -> None:
        super().__init__(**options)
        self.archive_lag = archive_lag

    def routes(self) -> dict[str, Handler]:
        return {"/v1/forecast": self._forecast, "/v1/archive": self._archive}

    # ---- what it serves ----------------------------------------------------
    def archive_cutoff(self) -> datetime:
        """Archive hours at or after this are served as null."""
        return align_hour_down(self.now() - self.archive_lag)

    def _hour(self, lat: float, lon: float, t: datetime, available: bool) -> MeteoHour:
        if not available:
            return MeteoHour(t, None, None, None, None, None, None, None, None)
        ms = _values(lat, lon, t, "ms", False)
        kmh = _values(lat, lon, t, "kmh", False)
        return MeteoHour(
            t=t,
            temperature=ms["temperature_2m"],
            humidity=float(ms["relative_humidity_2m"]),
            pressure=ms["pressure_msl"],
            surface_pressure=ms["surface_pressure"],
            wind_speed=ms["wind_speed_10m"],
            wind_speed_kmh=kmh["wind_speed_10m"],
            weather_code=ms["weather_code"],
            description=describe_wmo_code(ms["weather_code"]),
        )

    def hourly(self, lat: float, lon: float, start: datetime, end: datetime) -> list[MeteoHour]:
        """The archive's hours in `[start, end)` (start rounded up to the hour);
        hours past the lag cut-off are all None (the ingester skips them)."""
        cutoff = self.archive_cutoff()
        hours: list[MeteoHour] = []
        moment = align_hour_down(start)
        moment = moment if moment >= start else moment + HOUR
        while moment < end:
            hours.append(self._hour(lat, lon, moment, moment < cutoff))
            moment += HOUR
        return hours

    def current(self, lat: float, lon: float) -> MeteoHour:
        """The current reading the forecast endpoint serves now."""
        return self._hour(lat, lon, self._slot(), True)

    def _slot(self) -> datetime:
        now = self.now()
        return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)

    # ---- endpoints ---------------------------------------------------------
    def _common(self, params: dict[str, str], block: str) -> _Request:
        try:
            lat, lon = float(params["latitude"]), float(params["longitude"])
        except KeyError as exc:
            raise _BadRequest(f"Value of type 'String' required for key '{exc.args[0]}'.") from None
        except ValueError:
            raise _BadRequest("Latitude and longitude must be floating point numbers") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _BadRequest(f"Latitude must be in range of -90 to 90°. Given: {lat}.")
        wind = params.get("wind_speed_unit", params.get("windspeed_unit", "kmh"))
        if wind not in _WIND:
            raise _BadRequest(f"Cannot initialize WindspeedUnit from invalid String value {wind}.")
        fahrenheit = params.get("temperature_unit", "celsius") == "fahrenheit"
        names = [n for n in params.get(block, "").split(",") if n]
        for name in names:
            if name not in _VARIABLES:
                raise _BadRequest(
                    f"Cannot initialize SurfaceVariable from invalid String value {name} "
                    f"for key {block}"
                )
        units = {"time": "iso8601"}
        units.update({name: _unit(name, wind, fahrenheit) for name in names})
        return _Request(lat, lon, wind, fahrenheit, names, units)

    def _forecast(self, call: UpstreamCall) -> Answer:
        params = call.params
        try:
            lat, lon, wind, fahrenheit, names, units = self._common(params, "current")
        except _BadRequest as exc:
            return _error(str(exc))
        slot = self._slot()
        values = _values(lat, lon, slot, wind, fahrenheit)
        body = _envelope(lat, lon)
        if names:
            body["current_units"] = {
                "time": "iso8601",
                "interval": "seconds",
                **{k: v for k, v in units.items() if k != "time"},
            }
            body["current"] = {
                "time": slot.strftime("%Y-%m-%dT%H:%M"),
                "interval": 900,
                **{name: values[name] for name in names},
            }
        return 200, body, {}

    def _archive(self, call: UpstreamCall) -> Answer:
        params = call.params
        try:
            lat, lon, wind, fahrenheit, names, units = self._common(params, "hourly")
        except _BadRequest as exc:
            return _error(str(exc))
        try:
            first, last = (
                date.fromisoformat(params["start_date"]),
                date.fromisoformat(params["end_date"]),
            )
        except KeyError as exc:
            return _error(f"Value of type 'String' required for key '{exc.args[0]}'.")
        except ValueError:
            return _error("Invalid date format. Make sure to use 'YYYY-MM-DD'")
        if last < first:
            return _error("End-date must be larger or equals than start-date")
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        stop = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        cutoff = self.archive_cutoff()
        times: list[str] = []
        columns: dict[str, list[Any]] = {name: [] for name in names}
        moment = start
        while moment < stop:
            times.append(moment.strftime("%Y-%m-%dT%H:%M"))
            values = _values(lat, lon, moment, wind, fahrenheit) if moment < cutoff else {}
            for name in names:
                columns[name].append(values.get(name))
            moment += HOUR
        body = _envelope(lat, lon)
        if names:
            body["hourly_units"] = units
            body["hourly"] = {"time": times, **columns}
        return 200, body, {}

    def answer_fault(self, call: UpstreamCall) -> Answer | None:
        fault, path, params = call.fault, call.route, call.params
        assert fault is not None
        if fault.kind == "error":
            reason = fault.message or (
                "Parameter 'start_date' is out of allowed range from 1940-01-01 to "
                f"{self.now().date().isoformat()}"
            )
            return fault.status, {"error": True, "reason": reason}, {}
        if fault.kind == "empty":
            body = _envelope(float(params.get("latitude", 0)), float(params.get("longitude", 0)))
            if path == "/v1/archive":
                body["hourly_units"] = {"time": "iso8601"}
                body["hourly"] = {"time": []}
            return 200, body, {}
        reason = "Too many concurrent requests" if fault.status == 429 else "upstream error"
        return fault.status, {"error": True, "reason": reason}, fault.retry_after_headers()


def _unit(name: str, wind: str, fahrenheit: bool) -> str:
    if name == "temperature_2m":
        return "°F" if fahrenheit else "°C"
    if name == "wind_speed_10m":
        return _WIND[wind][0]
    return {"relative_humidity_2m": "%", "weather_code": "wmo code"}.get(name, "hPa")


def _envelope(lat: float, lon: float) -> dict[str, Any]:
    return {
        "latitude": round(lat, 4),
        "longitude": round(lon, 4),
        "generationtime_ms": 0.0629425048828125,
        "utc_offset_seconds": 0,
        "timezone": "GMT",
        "timezone_abbreviation": "GMT",
        "elevation": 17.0,
    }


def _error(reason: str) -> Answer:
    return 400, {"error": True, "reason": reason}, {}
