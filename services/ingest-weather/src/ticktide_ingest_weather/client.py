"""Outbound HTTP to the weather providers: Open-Meteo (default, no key) and
OpenWeather (when `OPENWEATHER_API_KEY` is set), behind one small interface,
`WeatherProvider` (`current(location)`, `hourly(location, start, end)`).

Retries, backoff, Retry-After and the errors are `ticktide_common.upstream`'s:
what persists is an `UpstreamUnavailableError` (unreachable, 5xx, empty: the
simulated fallback may take over), an `UpstreamThrottledError` or an
`UpstreamFormatError`; an error body (Open-Meteo's `reason`, OpenWeather's
`message`) is an `UpstreamRejectedError` with the provider's own words
(permanent, never a fallback). Nothing from an error answer is returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import httpx

from ticktide_common.messages import WeatherObservationV1, WeatherSource
from ticktide_common.settings import WeatherLocation
from ticktide_common.upstream import Sleep, UpstreamClient, UpstreamRejectedError
from ticktide_ingest_weather import open_meteo, openweather
from ticktide_ingest_weather.hours import HOUR, hours_in
from ticktide_ingest_weather.settings import IngestWeatherSettings

__all__ = [
    "FORECAST_PATH",
    "ARCHIVE_PATH",
    "CURRENT_WEATHER_PATH",
    "TIMEMACHINE_PATH",
    "OpenMeteoClient",
    "OpenWeatherClient",
    "WeatherProvider",
    "provider_from_settings",
]

FORECAST_PATH = "/v1/forecast"
ARCHIVE_PATH = "/v1/archive"
CURRENT_WEATHER_PATH = "/data/2.5/weather"
TIMEMACHINE_PATH = "/data/3.0/onecall/timemachine"
TIMEMACHINE_CONCURRENCY = 8


class WeatherProvider(Protocol):
    """A source of normalised observations (°C, %, hPa, m/s)."""

    source: WeatherSource

    async def current(self, location: WeatherLocation) -> WeatherObservationV1: ...

    async def hourly(
        self, location: WeatherLocation, start: datetime, end: datetime
    ) -> list[WeatherObservationV1]: ...


class OpenMeteoClient:
    """Open-Meteo: current weather from the forecast API, history from the archive.
    Wind is asked for in m/s; the parser still normalises by the units block."""

    source: WeatherSource = "open-meteo"

    def __init__(
        self,
        upstream: UpstreamClient,
        *,
        base_url: str,
        archive_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.upstream = upstream
        self.base_url = base_url.rstrip("/")
        self.archive_url = archive_url.rstrip("/")
        self.clock = clock

    def _params(self, location: WeatherLocation) -> dict[str, str | float]:
        return {
            "latitude": location.latitude,
            "longitude": location.longitude,
            "wind_speed_unit": "ms",
            "timezone": "GMT",
        }

    async def current(self, location: WeatherLocation) -> WeatherObservationV1:
        params = {**self._params(location), "current": ",".join(open_meteo.VARIABLES)}
        return await self.upstream.get(
            self.base_url + FORECAST_PATH,
            params,
            open_meteo.parse_current,
            what=f"current weather at {location.name}",
        )

    async def hourly(
        self, location: WeatherLocation, start: datetime, end: datetime
    ) -> list[WeatherObservationV1]:
        """Hours in `[start, end)`; the archive's not-yet-available hours are absent."""
        first_day = start.astimezone(UTC).date()
        last_day = min((end.astimezone(UTC) - HOUR).date(), self.clock().date())
        if last_day < first_day:
            return []
        params = {
            **self._params(location),
            "start_date": first_day.isoformat(),
            "end_date": last_day.isoformat(),
            "hourly": ",".join(open_meteo.VARIABLES),
        }
        return await self.upstream.get(
            self.archive_url + ARCHIVE_PATH,
            params,
            lambda payload: open_meteo.parse_hourly(payload, start, end),
            what=f"{location.name} {first_day}..{last_day}",
        )


class OpenWeatherClient:
    """OpenWeather: current weather (2.5) and One Call 3.0 time-machine history,
    one request per hour (a few at a time). Kelvin, as no `units` is sent."""

    source: WeatherSource = "openweather"

    def __init__(self, upstream: UpstreamClient, *, base_url: str, api_key: str) -> None:
        self.upstream = upstream
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    async def current(self, location: WeatherLocation) -> WeatherObservationV1:
        params: dict[str, str | float] = {
            "lat": location.latitude,
            "lon": location.longitude,
            "appid": self.api_key,
        }
        return await self.upstream.get(
            self.base_url + CURRENT_WEATHER_PATH,
            params,
            openweather.parse_current,
            what=f"current weather at {location.name}",
        )

    async def _hour(self, location: WeatherLocation, hour: datetime) -> list[WeatherObservationV1]:
        params: dict[str, str | float] = {
            "lat": location.latitude,
            "lon": location.longitude,
            "dt": int(hour.timestamp()),
            "appid": self.api_key,
        }
        observations = await self.upstream.get(
            self.base_url + TIMEMACHINE_PATH,
            params,
            openweather.parse_timemachine,
            what=f"{location.name} {hour:%Y-%m-%dT%H:%M}Z",
        )
        return [observation for observation in observations if observation.t == hour]

    async def hourly(
        self, location: WeatherLocation, start: datetime, end: datetime
    ) -> list[WeatherObservationV1]:
        hours = list(hours_in(start, end))
        found: dict[datetime, WeatherObservationV1] = {}
        for offset in range(0, len(hours), TIMEMACHINE_CONCURRENCY):
            window = hours[offset : offset + TIMEMACHINE_CONCURRENCY]
            answers = await asyncio.gather(
                *(self._hour(location, hour) for hour in window), return_exceptions=True
            )
            errors = [answer for answer in answers if isinstance(answer, BaseException)]
            if errors:  # a permanent reason first: it says the most
                errors.sort(key=lambda error: not isinstance(error, UpstreamRejectedError))
                raise errors[0]
            for answer in answers:
                assert not isinstance(answer, BaseException)
                found.update((observation.t, observation) for observation in answer)
        return [found[t] for t in sorted(found)]


def provider_from_settings(
    settings: IngestWeatherSettings, http: httpx.AsyncClient, *, sleep: Sleep = asyncio.sleep
) -> WeatherProvider:
    """OpenWeather when a key is configured, else Open-Meteo."""
    if settings.openweather_api_key:
        return OpenWeatherClient(
            UpstreamClient.from_settings(
                settings,
                http,
                provider="OpenWeather",
                reason_of=lambda _status, body: openweather.error_message(body),
                sleep=sleep,
            ),
            base_url=settings.openweather_base_url,
            api_key=settings.openweather_api_key,
        )
    return OpenMeteoClient(
        UpstreamClient.from_settings(
            settings,
            http,
            provider="Open-Meteo",
            reason_of=lambda _status, body: open_meteo.error_reason(body),
            sleep=sleep,
        ),
        base_url=settings.open_meteo_base_url,
        archive_url=settings.open_meteo_archive_url,
    )
