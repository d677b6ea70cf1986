"""The provider clients against the fakes: retry policy, Retry-After, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from ticktide_common.settings import WeatherLocation
from ticktide_common.testing.processes import free_port
from ticktide_common.upstream import (
    UpstreamClient,
    UpstreamRejectedError,
    UpstreamThrottledError,
    UpstreamUnavailableError,
)
from ticktide_ingest_weather import open_meteo, openweather
from ticktide_ingest_weather.client import OpenMeteoClient, OpenWeatherClient
from ticktide_ingest_weather.testing.fake_weather import FakeOpenMeteo, FakeOpenWeather

PLACE = WeatherLocation("Helsinki", 60.1699, 24.9384)
JAN = datetime(2024, 1, 1, tzinfo=UTC)


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def meteo_client(
    http: httpx.AsyncClient, url: str, sleeps: Sleeps, attempts: int = 4
) -> OpenMeteoClient:
    upstream = UpstreamClient(
        http,
        provider="Open-Meteo",
        reason_of=lambda _status, body: open_meteo.error_reason(body),
        max_attempts=attempts,
        backoff_seconds=0.5,
        sleep=sleeps,
    )
    return OpenMeteoClient(upstream, base_url=url, archive_url=url)


def openweather_client(
    http: httpx.AsyncClient, url: str, sleeps: Sleeps, key: str
) -> OpenWeatherClient:
    upstream = UpstreamClient(
        http,
        provider="OpenWeather",
        reason_of=lambda _status, body: openweather.error_message(body),
        max_attempts=3,
        backoff_seconds=0.5,
        sleep=sleeps,
    )
    return OpenWeatherClient(upstream, base_url=url, api_key=key)


async def test_5xx_backs_off_exponentially_then_gives_up(http: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with FakeOpenMeteo() as fake:
        fake.fail_next(503, times=4)
        with pytest.raises(UpstreamUnavailableError, match="answered 503"):
            await meteo_client(http, fake.url, sleeps).hourly(PLACE, JAN, JAN + timedelta(days=1))
        assert sleeps.waits == [0.5, 1.0, 2.0]
        assert len(fake.requests()) == 4


async def test_unreachable_is_unavailable(http: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    client = meteo_client(http, f"http://127.0.0.1:{free_port()}", sleeps, attempts=2)
    with pytest.raises(UpstreamUnavailableError, match="unreachable"):
        await client.current(PLACE)
    assert sleeps.waits == [0.5]


async def test_empty_current_is_retried(http: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with FakeOpenMeteo() as fake:
        fake.set_now(datetime(2024, 6, 1, 12, 20, tzinfo=UTC))
        fake.empty_next()
        observation = await meteo_client(http, fake.url, sleeps).current(PLACE)
        served = fake.current(PLACE.latitude, PLACE.longitude)
        assert observation.t == served.t == datetime(2024, 6, 1, 12, 15, tzinfo=UTC)
        assert observation.wind_speed == served.wind_speed
        assert observation.raw["interval"] == 900
        assert sleeps.waits == [0.5]


async def test_429_honours_retry_after(http: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with FakeOpenWeather(api_key="k") as fake:
        fake.fail_next(429, retry_after=7)
        observation = await openweather_client(http, fake.url, sleeps, "k").current(PLACE)
        assert observation.temperature is not None
        assert sleeps.waits == [7.0]
        fake.fail_next(429, times=3, retry_after=1)
        with pytest.raises(UpstreamThrottledError):
            await openweather_client(http, fake.url, sleeps, "k").current(PLACE)


async def test_openweather_rejections_carry_the_message(http: httpx.AsyncClient) -> None:
    sleeps = Sleeps()
    with FakeOpenWeather(api_key="k") as fake:
        with pytest.raises(UpstreamRejectedError, match="401.*Invalid API key"):
            await openweather_client(http, fake.url, sleeps, "bad").hourly(
                PLACE, JAN, JAN + timedelta(hours=2)
            )
        fake.error_next(status=404, message="city not found")
        with pytest.raises(UpstreamRejectedError, match="404.*city not found"):
            await openweather_client(http, fake.url, sleeps, "k").current(PLACE)
        assert sleeps.waits == []


async def test_open_meteo_serves_kmh_unless_asked_for_ms(http: httpx.AsyncClient) -> None:
    with FakeOpenMeteo() as fake:
        params = {
            "latitude": "60.1699",
            "longitude": "24.9384",
            "start_date": "2024-01-01",
            "end_date": "2024-01-01",
            "hourly": "wind_speed_10m",
        }
        default = (await http.get(f"{fake.url}/v1/archive", params=params)).json()
        ms = (
            await http.get(f"{fake.url}/v1/archive", params={**params, "wind_speed_unit": "ms"})
        ).json()
        assert default["hourly_units"]["wind_speed_10m"] == "km/h"
        assert ms["hourly_units"]["wind_speed_10m"] == "m/s"
        served = fake.hourly(60.1699, 24.9384, JAN, JAN + timedelta(days=1))
        assert default["hourly"]["wind_speed_10m"] == [h.wind_speed_kmh for h in served]
        assert ms["hourly"]["wind_speed_10m"] == [h.wind_speed for h in served]
        assert len(default["hourly"]["time"]) == 24
        bad = await http.get(f"{fake.url}/v1/archive", params={**params, "hourly": "nonsense"})
        assert bad.status_code == 400 and bad.json()["error"] is True
