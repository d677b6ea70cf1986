"""`python -m ticktide_ingest_weather`: serve on `INGEST_WEATHER_PORT` (8105)."""

from __future__ import annotations

from ticktide_common.ingest_service import serve
from ticktide_ingest_weather.app import SERVICE_NAME, create_app
from ticktide_ingest_weather.settings import get_settings


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, SERVICE_NAME, settings.ingest_weather_port)


if __name__ == "__main__":
    main()
