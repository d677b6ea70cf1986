"""`python -m ticktide_ingest_stocks`: serve on `INGEST_STOCKS_PORT` (8104)."""

from __future__ import annotations

from ticktide_common.ingest_service import serve
from ticktide_ingest_stocks.app import SERVICE_NAME, create_app
from ticktide_ingest_stocks.settings import get_settings


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, SERVICE_NAME, settings.ingest_stocks_port)


if __name__ == "__main__":
    main()
