"""A fake OpenWeather: `/data/2.5/weather` (current) and One Call 3.0
`/data/3.0/onecall/timemachine` (one hour per request) in OpenWeather's format.

`appid` must equal the fake's `api_key`, else 401 `{"cod": 401, "message":
"Invalid API key. ..."}`. Without `units` it speaks Kelvin (two decimals) and
m/s; `units=metric` gives °C. Pressure and humidity are integers, as served by
the real one. Current weather is observed at the 10-minute slot of the fake's
clock; a time-machine answer's `data[0].dt` is the requested `dt`, with the
values of the hour it falls in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ticktide_ingest_weather.hours import HOUR, align_hour_down
from ticktide_ingest_weather.testing._server import (
    Answer,
    FakeWeatherServer,
    Handler,
    UpstreamCall,
    truth,
)

__all__ = ["OWM_CONDITIONS", "FakeOpenWeather", "OpenWeatherHour"]

INVALID_KEY = "Invalid API key. Please see https://openweathermap.org/faq#error401 for more info."
# WMO code of the fake's truth -> OpenWeather condition (id, main, description, icon).
OWM_CONDITIONS: dict[int, tuple[int, str, str, str]] = {
    0: (800, "Clear", "clear sky", "01d"),
    1: (801, "Clouds", "few clouds", "02d"),
    2: (802, "Clouds", "scattered clouds", "03d"),
    3: (804, "Clouds", "overcast clouds", "04d"),
    45: (741, "Fog", "fog", "50d"),
    61: (500, "Rain", "light rain", "10d"),
    63: (501, "Rain", "moderate rain", "10d"),
    71: (600, "Snow", "light snow", "13d"),
    80: (521, "Rain", "shower rain", "09d"),
    95: (211, "Thunderstorm", "thunderstorm", "11d"),
}


class _Refused(Exception):
    """A request the real OpenWeather answers with this status and error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message"))
        self.status = status
        self.body = body


@dataclass(frozen=True)
class OpenWeatherHour:
    """What the fake serves for one moment, in OpenWeather's standard units.
    The ingester stores temperature as `kelvin - 273.15` and the rest as is."""

    t: datetime
    kelvin: float
    humidity: int
    pressure: int
    wind_speed: float
    condition_id: int
    description: str

    @property
    def celsius(self) -> float:
        """Exactly what the ingester computes: `kelvin - 273.15`."""
        return self.kelvin - 273.15


class FakeOpenWeather(FakeWeatherServer):
    name = "fake-openweather"

    def __init__(self, *, api_key: str = "test-openweather-key", **options: Any) -> None:
        super().__init__(**options)
        self.api_key = api_key

    def routes(self) -> dict[str, Handler]:
        return {
            "/data/2.5/weather": self._weather,
            "/data/3.0/onecall/timemachine": self._timemachine,
        }

    # ---- what it serves ----------------------------------------------------
    def observation(self, lat: float, lon: float, moment: datetime) -> OpenWeatherHour:
        now = truth(lat, lon, moment)
        condition = OWM_CONDITIONS[now.wmo_code]
        return OpenWeatherHour(
            t=moment,
            kelvin=round(now.celsius + 273.15, 2),
            humidity=now.humidity,
            pressure=round(now.pressure_msl),
            wind_speed=now.wind_ms,
            condition_id=condition[0],
            description=condition[2],
        )

    def hourly(
        self, lat: float, lon: float, start: datetime, end: datetime
    ) -> list[OpenWeatherHour]:
        """The time machine's hours in `[start, end)` (start rounded up)."""
        moment = align_hour_down(start)
        moment = moment if moment >= start else moment + HOUR
        hours = []
        while moment < end:
            hours.append(self.observation(lat, lon, moment))
            moment += HOUR
        return hours

    def current(self, lat: float, lon: float) -> OpenWeatherHour:
        now = self.now()
        slot = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
        return self.observation(lat, lon, slot)

    # ---- endpoints ---------------------------------------------------------
    def _check(self, params: dict[str, str]) -> tuple[float, float]:
        """The coordinates of an authorised request; `_Refused` otherwise."""
        if params.get("appid") != self.api_key:
            raise _Refused(401, {"cod": 401, "message": INVALID_KEY})
        try:
            lat, lon = float(params["lat"]), float(params["lon"])
        except (KeyError, ValueError):
            raise _Refused(400, {"cod": "400", "message": "Nothing to geocode"}) from None
        if not -90 <= lat <= 90:
            raise _Refused(400, {"cod": "400", "message": "wrong latitude"})
        if not -180 <= lon <= 180:
            raise _Refused(400, {"cod": "400", "message": "wrong longitude"})
        return lat, lon

    def _weather(self, call: UpstreamCall) -> Answer:
        params = call.params
        try:
            lat, lon = self._check(params)
        except _Refused as refused:
            return refused.status, refused.body, {}
        hour = self.current(lat, lon)
        metric = params.get("units") == "metric"
        temp = round(hour.kelvin - 273.15, 2) if metric else hour.kelvin
        condition = _condition(hour.condition_id)
        body = {
            "coord": {"lon": lon, "lat": lat},
            "weather": [condition],
            "base": "stations",
            "main": {
                "temp": temp,
                "feels_like": temp,
                "temp_min": temp,
                "temp_max": temp,
                "pressure": hour.pressure,
                "humidity": hour.humidity,
                "sea_level": hour.pressure,
                "grnd_level": hour.pressure - 3,
            },
            "visibility": 10000,
            "wind": {"speed": hour.wind_speed, "deg": 220},
            "clouds": {"all": 40},
            "dt": int(hour.t.timestamp()),
            "sys": {"country": "XX", "sunrise": 1_700_000_000, "sunset": 1_700_030_000},
            "timezone": 0,
            "id": 0,
            "name": "Fake place",
            "cod": 200,
        }
        return 200, body, {}

    def _timemachine(self, call: UpstreamCall) -> Answer:
        params = call.params
        try:
            lat, lon = self._check(params)
        except _Refused as refused:
            return refused.status, refused.body, {}
        try:
            dt = int(params["dt"])
        except (KeyError, ValueError):
            return 400, {"cod": "400", "message": "dt: invalid or missing"}, {}
        hour = self.observation(lat, lon, align_hour_down(datetime.fromtimestamp(dt, UTC)))
        metric = params.get("units") == "metric"
        temp = round(hour.kelvin - 273.15, 2) if metric else hour.kelvin
        entry = {
            "dt": dt,
            "sunrise": dt - dt % 86400 + 21600,
            "sunset": dt - dt % 86400 + 64800,
            "temp": temp,
            "feels_like": temp,
            "pressure": hour.pressure,
            "humidity": hour.humidity,
            "dew_point": round(temp - 3.5, 2),
            "clouds": 40,
            "visibility": 10000,
            "wind_speed": hour.wind_speed,
            "wind_deg": 220,
            "weather": [_condition(hour.condition_id)],
        }
        return 200, _envelope(lat, lon, [entry]), {}

    def answer_fault(self, call: UpstreamCall) -> Answer | None:
        fault, path = call.fault, call.route
        assert fault is not None
        if fault.kind == "error":
            code = fault.status
            message = fault.message or ("wrong latitude" if code == 400 else INVALID_KEY)
            return code, {"cod": code if code == 401 else str(code), "message": message}, {}
        if fault.kind == "empty":
            if path.endswith("timemachine"):
                return 200, _envelope(0.0, 0.0, []), {}
            return 200, {}, {}
        message = (
            "Your account is temporary blocked due to exceeding of requests limitation of "
            "your subscription type. Please choose the proper subscription "
            "https://openweathermap.org/price"
            if fault.status == 429
            else "Internal error"
        )
        return fault.status, {"cod": fault.status, "message": message}, fault.retry_after_headers()


def _condition(condition_id: int) -> dict[str, Any]:
    for cid, main, description, icon in OWM_CONDITIONS.values():
        if cid == condition_id:
            return {"id": cid, "main": main, "description": description, "icon": icon}
    raise KeyError(condition_id)


def _envelope(lat: float, lon: float, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"lat": lat, "lon": lon, "timezone": "Etc/GMT", "timezone_offset": 0, "data": data}
