"""`python -m ticktide_auth`: the auth service on `AUTH_PORT` (default 8103)."""

from __future__ import annotations

from ticktide_auth.app import SERVICE, create_app
from ticktide_auth.settings import get_settings
from ticktide_common.service import run_service


def main() -> None:
    settings = get_settings()
    run_service(
        create_app(settings),
        service=SERVICE,
        host=settings.service_host,
        port=settings.auth_port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
