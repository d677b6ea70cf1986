"""`python -m ticktide_backtest_worker`: one backtest worker, its health routes on
`BACKTEST_WORKER_PORT` (default 8110; the Procfile gives worker i 8110 + i)."""

from __future__ import annotations

from ticktide_backtest_worker.app import SERVICE, create_app
from ticktide_backtest_worker.settings import get_settings
from ticktide_common.service import run_service


def main() -> None:
    settings = get_settings()
    run_service(
        create_app(settings),
        service=SERVICE,
        host=settings.service_host,
        port=settings.backtest_worker_port,
        log_level=settings.log_level,
    )


if __name__ == "__main__":
    main()
