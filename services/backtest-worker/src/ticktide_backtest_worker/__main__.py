"""`python -m ticktide_backtest_worker`: one backtest worker, its health routes on
`BACKTEST_WORKER_PORT` (default 8104; honcho gives each of several workers its own
`PORT`, which wins when set)."""

from __future__ import annotations

import os

from ticktide_backtest_worker.app import SERVICE, create_app
from ticktide_common.service import run_service
from ticktide_common.settings import get_settings


def main() -> None:
    settings = get_settings()
    port = int(os.environ.get("PORT") or settings.backtest_worker_port)
    run_service(
        create_app(settings),
        service=SERVICE,
        host=settings.service_host,
        port=port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
