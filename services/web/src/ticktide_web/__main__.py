"""`python -m ticktide_web`: the web service on `WEB_PORT` (default 8106)."""

from __future__ import annotations

from ticktide_common.service import run_service
from ticktide_web.app import SERVICE, create_app
from ticktide_web.settings import get_settings


def main() -> None:
    settings = get_settings()
    run_service(
        create_app(settings),
        service=SERVICE,
        host=settings.service_host,
        port=settings.web_port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
