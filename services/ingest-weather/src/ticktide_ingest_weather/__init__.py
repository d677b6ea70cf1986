"""ticktide_ingest_weather: the weather ingester (Open-Meteo by default,
OpenWeather when `OPENWEATHER_API_KEY` is set, a simulated source as fallback).

Public entry points for other packages (the CLI, end-to-end tests): the pure
parsers in `open_meteo` / `openweather`, `simulated_observation`, and, in
`ticktide_ingest_weather.testing.fake_weather`, the fake providers
`FakeOpenMeteo` and `FakeOpenWeather`.
"""

from ticktide_ingest_weather.simulated import (
    SIMULATED_SOURCE,
    simulated_current,
    simulated_hours,
    simulated_observation,
)

__all__ = ["SIMULATED_SOURCE", "simulated_current", "simulated_hours", "simulated_observation"]
