"""Start-up helpers shared by every service's `__main__`: logging, then uvicorn,
which drains in-flight requests on SIGTERM before the app's lifespan closes
its pool and bus (unacked messages go back to their queues). uvicorn's proxy
headers are off: who the client is, is decided by `proxy_trust`.
Before serving, the collector is tuned (`garbage_collection`)."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from ticktide_common.garbage_collection import tune_garbage_collector
from ticktide_common.logging import configure_logging

__all__ = ["run_service"]


def run_service(app: FastAPI, *, service: str, host: str, port: int, log_level: str) -> None:
    configure_logging(service, log_level)
    tune_garbage_collector()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        lifespan="on",
        # Never uvicorn's address-based trust of X-Forwarded-For (every local program
        # shares nginx's 127.0.0.1): the client comes from ticktide_common.proxy_trust.
        proxy_headers=False,
    )
