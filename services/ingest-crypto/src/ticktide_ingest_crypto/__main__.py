"""`python -m ticktide_ingest_crypto`: serve on `INGEST_CRYPTO_PORT` (8101)."""

from __future__ import annotations

from ticktide_common.ingest_service import serve
from ticktide_ingest_crypto.app import SERVICE_NAME, create_app
from ticktide_ingest_crypto.settings import get_settings


def main() -> None:
    settings = get_settings()
    serve(create_app(settings), settings, SERVICE_NAME, settings.ingest_crypto_port)


if __name__ == "__main__":
    main()
