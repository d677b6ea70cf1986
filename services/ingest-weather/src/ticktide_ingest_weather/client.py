"""Outbound HTTP to the weather providers: Open-Meteo (default, no key) and
OpenWeather (when `OPENWEATHER_API_KEY` is set), behind one small interface,
`WeatherProvider` (`current(location)`, `hourly(location, start, end)`).

Every request goes through `RetryingGetter`: connection errors, timeouts, 5xx,
malformed and empty answers are retried with exponential backoff
(`http_max_attempts`, first wait `http_backoff_seconds`); 429 waits at least
its `Retry-After`. What persists becomes `UpstreamUnavailableError` (the
simulated fallback may take over), `UpstreamThrottledError` or
`UpstreamFormatError`; any other 4xx is an `UpstreamRejectedError` with the
provider's own reason (permanent). Nothing from an error answer is returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import httpx

from ticktide_common.logging import get_logger
from ticktide_common.messages import WeatherObservationV1, WeatherSource
from ticktide_common.settings import Settings, WeatherLocation
from ticktide_ingest_weather import open_meteo, openweather
from ticktide_ingest_weather.errors import (
    UpstreamEmptyError,
    UpstreamFormatError,
    UpstreamRejectedError,
    UpstreamThrottledError,
    UpstreamUnavailableError,
)
from ticktide_ingest_weather.hours import HOUR, hours_in

__all__ = [
    "FORECAST_PATH",
    "ARCHIVE_PATH",
    "CURRENT_WEATHER_PATH",
    "TIMEMACHINE_PATH",
    "OpenMeteoClient",
    "OpenWeatherClient",
    "RetryingGetter",
    "WeatherProvider",
    "provider_from_settings",
]

FORECAST_PATH = "/v1/forecast"
ARCHIVE_PATH = "/v1/archive"
CURRENT_WEATHER_PATH = "/data/2.5/weather"
TIMEMACHINE_PATH = "/data/3.0/onecall/timemachine"
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 120.0
TIMEMACHINE_CONCURRENCY = 8

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]
log = get_logger(__name__)


class WeatherProvider(Protocol):
    """A source of normalised observations (°C, %, hPa, m/s)."""

    source: WeatherSource

    async def current(self, location: WeatherLocation) -> WeatherObservationV1: ...

    async def hourly(
        self, location: WeatherLocation, start: datetime, end: datetime
    ) -> list[WeatherObservationV1]: ...


def _retry_after(value: str | None) -> float:
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_SECONDS) if value else 0.0
    except ValueError:
        return 0.0


class RetryingGetter:
    """GET + parse with the retry policy of the module docstring."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        provider: str,
        reason_of: Callable[[object], str | None],
        max_attempts: int = 4,
        backoff_seconds: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.http = http
        self.provider = provider
        self.reason_of = reason_of
        self.max_attempts = max(1, max_attempts)
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep

    async def get(
        self, url: str, params: dict[str, str | float], parse: Callable[[object], T]
    ) -> T:
        failure: Exception = UpstreamUnavailableError(f"{self.provider}: no attempt made")
        for attempt in range(1, self.max_attempts + 1):
            delay = min(self.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
            try:
                response = await self.http.get(url, params=params)
            except httpx.TransportError as exc:
                failure = UpstreamUnavailableError(
                    f"{self.provider} unreachable after {attempt} attempts: {exc!r:.200}"
                )
            else:
                status = response.status_code
                if status >= 500:
                    failure = UpstreamUnavailableError(
                        f"{self.provider} answered {status} {attempt} times: {response.text!r:.200}"
                    )
                elif status == 429:
                    failure = UpstreamThrottledError(
                        f"{self.provider} kept answering 429 ({attempt} times)"
                    )
                    delay = max(delay, _retry_after(response.headers.get("Retry-After")))
                elif status >= 400:
                    raise self._rejection(response)
                else:
                    try:
                        return parse(response.json())
                    except UpstreamEmptyError as exc:
                        failure = UpstreamUnavailableError(
                            f"{self.provider} answered empty {attempt} times: {exc}"
                        )
                    except UpstreamFormatError as exc:
                        failure = exc
                    except ValueError as exc:  # not JSON, or values out of range
                        failure = UpstreamFormatError(
                            f"{self.provider} answered malformed data: {exc!s:.200}"
                        )
            if attempt < self.max_attempts:
                log.warning(
                    "weather.upstream_retry",
                    provider=self.provider,
                    attempt=attempt,
                    wait=round(delay, 3),
                    error=str(failure)[:200],
                )
                await self.sleep(delay)
        raise failure

    def _rejection(self, response: httpx.Response) -> UpstreamRejectedError:
        try:
            reason = self.reason_of(response.json())
        except ValueError:
            reason = None
        return UpstreamRejectedError(
            self.provider, response.status_code, reason or response.text[:300]
        )


class OpenMeteoClient:
    """Open-Meteo: current weather from the forecast API, history from the archive.
    Wind is asked for in m/s; the parser still normalises by the units block."""

    source: WeatherSource = "open-meteo"

    def __init__(
        self,
        getter: RetryingGetter,
        *,
        base_url: str,
        archive_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.getter = getter
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
        return await self.getter.get(
            self.base_url + FORECAST_PATH, params, open_meteo.parse_current
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
        return await self.getter.get(
            self.archive_url + ARCHIVE_PATH,
            params,
            lambda payload: open_meteo.parse_hourly(payload, start, end),
        )


class OpenWeatherClient:
    """OpenWeather: current weather (2.5) and One Call 3.0 time-machine history,
    one request per hour (a few at a time). Kelvin, as no `units` is sent."""

    source: WeatherSource = "openweather"

    def __init__(self, getter: RetryingGetter, *, base_url: str, api_key: str) -> None:
        self.getter = getter
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    async def current(self, location: WeatherLocation) -> WeatherObservationV1:
        params: dict[str, str | float] = {
            "lat": location.latitude,
            "lon": location.longitude,
            "appid": self.api_key,
        }
        return await self.getter.get(
            self.base_url + CURRENT_WEATHER_PATH, params, openweather.parse_current
        )

    async def _hour(self, location: WeatherLocation, hour: datetime) -> list[WeatherObservationV1]:
        params: dict[str, str | float] = {
            "lat": location.latitude,
            "lon": location.longitude,
            "dt": int(hour.timestamp()),
            "appid": self.api_key,
        }
        observations = await self.getter.get(
            self.base_url + TIMEMACHINE_PATH, params, openweather.parse_timemachine
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
    settings: Settings, http: httpx.AsyncClient, *, sleep: Sleep = asyncio.sleep
) -> WeatherProvider:
    """OpenWeather when a key is configured, else Open-Meteo."""
    if settings.openweather_api_key:
        return OpenWeatherClient(
            RetryingGetter(
                http,
                provider="OpenWeather",
                reason_of=openweather.error_message,
                max_attempts=settings.http_max_attempts,
                backoff_seconds=settings.http_backoff_seconds,
                sleep=sleep,
            ),
            base_url=settings.openweather_base_url,
            api_key=settings.openweather_api_key,
        )
    return OpenMeteoClient(
        RetryingGetter(
            http,
            provider="Open-Meteo",
            reason_of=open_meteo.error_reason,
            max_attempts=settings.http_max_attempts,
            backoff_seconds=settings.http_backoff_seconds,
            sleep=sleep,
        ),
        base_url=settings.open_meteo_base_url,
        archive_url=settings.open_meteo_archive_url,
    )
