"""Test helpers of ingest-weather: fake Open-Meteo and OpenWeather servers."""
