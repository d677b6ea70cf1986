"""`python -m ticktide_writer`: the writer on `WRITER_PORT` (default 8102)."""

from __future__ import annotations

from ticktide_common.service import run_service
from ticktide_writer.app import SERVICE, create_app
from ticktide_writer.settings import get_settings


def main() -> None:
    settings = get_settings()
    run_service(
        create_app(settings),
        service=SERVICE,
        host=settings.service_host,
        port=settings.writer_port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
