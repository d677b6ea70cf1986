"""The gateway's request body limits, per route (413 with a JSON detail beyond
them, checked on Content-Length and on the streamed body alike): backtest
requests are a grid of a few parameters, so a few kilobytes, and a strategy
document is at most 20,000 characters (64 KiB for both); every other JSON
route of the gateway is small too. Bodies forwarded to auth and web are bounded
again by forwarding.py."""

from __future__ import annotations

from fastapi import FastAPI

from ticktide_common.body_limit import BodyLimitMiddleware

__all__ = [
    "ARCHIVE_BODY_BYTES",
    "BACKTEST_BODY_BYTES",
    "DEFAULT_BODY_BYTES",
    "ROUTE_BODY_LIMITS",
    "STRATEGY_BODY_BYTES",
    "install_body_limits",
]

BACKTEST_BODY_BYTES = 64 * 1024
STRATEGY_BODY_BYTES = 64 * 1024
DEFAULT_BODY_BYTES = 1024 * 1024
# One Binance archive zip (admin/archive_import.py); ingest-crypto caps it again,
# and nginx's client_max_body_size (10m) is above it.
ARCHIVE_BODY_BYTES = 8 * 1024 * 1024
ROUTE_BODY_LIMITS: tuple[tuple[str, int], ...] = (
    ("/api/crypto/backtest/", BACKTEST_BODY_BYTES),
    ("/api/strategies", STRATEGY_BODY_BYTES),
    ("/api/admin/ingest/crypto/archive", ARCHIVE_BODY_BYTES),
)


def install_body_limits(app: FastAPI) -> None:
    app.add_middleware(BodyLimitMiddleware, max_bytes=DEFAULT_BODY_BYTES, limits=ROUTE_BODY_LIMITS)
