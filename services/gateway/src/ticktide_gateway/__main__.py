"""`python -m ticktide_gateway`: serve the gateway on `GATEWAY_PORT` (SIGTERM drains)."""

from __future__ import annotations

import gc

from ticktide_common.service import run_service
from ticktide_gateway.app import SERVICE, create_app
from ticktide_gateway.settings import get_settings


def main() -> None:
    settings = get_settings()
    # A prices response allocates tens of thousands of objects; the default gen-0
    # threshold (700) would run many collections per request, and full ones add
    # tens of milliseconds to the tail. Objects alive after start-up are frozen
    # by the lifespan so that full collections do not walk them either.
    gc.set_threshold(100_000, 50, 100)
    run_service(
        create_app(settings),
        service=SERVICE,
        host=settings.service_host,
        port=settings.gateway_port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
