"""The fake weather providers for tests (real HTTP servers, the providers' exact
formats): `FakeOpenMeteo` (`/v1/forecast` and `/v1/archive` on one `.url`) and
`FakeOpenWeather` (`/data/2.5/weather`, `/data/3.0/onecall/timemachine`).

    with FakeOpenMeteo() as meteo:                      # or .start() / .stop()
        settings = settings.model_copy(update={
            "open_meteo_base_url": meteo.url, "open_meteo_archive_url": meteo.url})
        meteo.hourly(lat, lon, start, end)   # MeteoHour per hour: the stored values
        meteo.current(lat, lon)              # the reading /v1/forecast serves now
        meteo.fail_next(503, times=1); meteo.error_next(); meteo.empty_next()
        meteo.requests("/v1/archive")        # the request log
        meteo.set_now(moment)                # freeze the clock (current slot, lag)

Both serve deterministic values per (latitude, longitude, hour).
"""

from ticktide_ingest_weather.testing._server import RecordedRequest, Truth, truth
from ticktide_ingest_weather.testing.fake_open_meteo import FakeOpenMeteo, MeteoHour
from ticktide_ingest_weather.testing.fake_openweather import (
    OWM_CONDITIONS,
    FakeOpenWeather,
    OpenWeatherHour,
)

__all__ = [
    "OWM_CONDITIONS",
    "FakeOpenMeteo",
    "FakeOpenWeather",
    "MeteoHour",
    "OpenWeatherHour",
    "RecordedRequest",
    "Truth",
    "truth",
]
