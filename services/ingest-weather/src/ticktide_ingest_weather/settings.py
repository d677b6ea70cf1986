"""The settings ingest-weather reads: every ingester's (`IngesterSettings`:
database, bus, the catalogue, history bounds, upstream HTTP) and the weather
providers' fields."""

from __future__ import annotations

from functools import lru_cache

from ticktide_common.ingest_service import IngesterSettings

__all__ = ["IngestWeatherSettings", "get_settings"]


class IngestWeatherSettings(IngesterSettings):
    """ingest-weather: where it listens, Open-Meteo / OpenWeather, the scheduler."""

    ingest_weather_port: int = 8105
    openweather_base_url: str = "https://api.openweathermap.org"
    openweather_api_key: str = ""
    open_meteo_base_url: str = "https://api.open-meteo.com"
    open_meteo_archive_url: str = "https://archive-api.open-meteo.com"

    # Weather (OPENWEATHER_API_KEY: OpenWeather instead of Open-Meteo).
    weather_current_seconds: float = 900.0
    weather_history_seconds: float = 3600.0
    weather_history_days: int = 30  # what the first scheduled history run loads
    weather_scheduler_enabled: bool = True


@lru_cache(maxsize=1)
def get_settings() -> IngestWeatherSettings:
    """The process-wide settings, read once."""
    return IngestWeatherSettings()
