"""`python -m ticktide_ingest_weather`: serve on `INGEST_WEATHER_PORT` (8105)."""

from __future__ import annotations

from ticktide_common.service import run_service
from ticktide_common.settings import get_settings
from ticktide_ingest_weather.app import SERVICE_NAME, create_app


def main() -> None:
    settings = get_settings()
    run_service(
        create_app(settings),
        service=SERVICE_NAME,
        host=settings.service_host,
        port=settings.ingest_weather_port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
