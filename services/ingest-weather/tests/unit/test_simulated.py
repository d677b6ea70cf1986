"""The simulated source: deterministic, plausible, labelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticktide_common.settings import WeatherLocation
from ticktide_ingest_weather.simulated import (
    simulated_current,
    simulated_hours,
    simulated_observation,
)

HELSINKI = WeatherLocation("Helsinki", 60.1699, 24.9384)
SYDNEY = WeatherLocation("Sydney", -33.8688, 151.2093)
SINGAPORE = WeatherLocation("Singapore", 1.35, 103.82)


def test_a_function_of_location_and_time_only() -> None:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    week = simulated_hours(HELSINKI, start, start + timedelta(days=7))
    later = simulated_hours(HELSINKI, start + timedelta(days=2), start + timedelta(days=3))
    assert len(week) == 168
    assert later == week[48:72]
    assert simulated_observation(SYDNEY, start) != simulated_observation(HELSINKI, start)
    assert week[0].raw["simulated"] is True


def _mean(location: WeatherLocation, month: int) -> float:
    start = datetime(2024, month, 1, tzinfo=UTC)
    hours = simulated_hours(location, start, start + timedelta(days=28))
    return sum(o.temperature or 0 for o in hours) / len(hours)


def test_seasons_follow_the_hemisphere() -> None:
    assert _mean(HELSINKI, 7) - _mean(HELSINKI, 1) > 10
    assert _mean(SYDNEY, 1) - _mean(SYDNEY, 7) > 4
    assert _mean(SINGAPORE, 1) > 20


def test_plausible_ranges_over_a_year() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for location in (HELSINKI, SYDNEY, SINGAPORE):
        for observation in simulated_hours(location, start, start + timedelta(days=366)):
            assert observation.temperature is not None and -40 < observation.temperature < 45
            assert observation.humidity is not None and 15 <= observation.humidity <= 100
            assert observation.pressure is not None and 980 < observation.pressure < 1045
            assert observation.wind_speed is not None and 0 <= observation.wind_speed < 15
            assert observation.description


def test_afternoon_warmer_than_night() -> None:
    # Helsinki is UTC+1.7 in solar time: 13 UTC is mid-afternoon, 01 UTC deep night.
    days = [datetime(2024, 6, d, tzinfo=UTC) for d in range(1, 29)]
    afternoon = sum(
        simulated_observation(HELSINKI, d.replace(hour=13)).temperature or 0 for d in days
    )
    night = sum(simulated_observation(HELSINKI, d.replace(hour=1)).temperature or 0 for d in days)
    assert afternoon > night + 28 * 4


def test_current_is_the_quarter_hour_slot() -> None:
    now = datetime(2024, 5, 5, 10, 37, 12, tzinfo=UTC)
    observation = simulated_current(HELSINKI, now)
    assert observation.t == datetime(2024, 5, 5, 10, 30, tzinfo=UTC)
    assert observation == simulated_current(HELSINKI, now + timedelta(minutes=5))
