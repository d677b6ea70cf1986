"""Structured JSON logging: every line carries the service name and, when one
is bound, the correlation id of the request or message being handled."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog

__all__ = ["configure_logging", "get_logger", "bind_correlation_id", "correlation_scope"]


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was
    configured: a command run under a test runner that swaps stderr for a
    buffer (and closes it) must not leave the process logging into a closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR = _CurrentStderr()


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send structlog and stdlib logging as JSON lines to stderr."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=_STDERR),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_STDERR)  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiormq", "aio_pika", "uvicorn.access", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]


def bind_correlation_id(correlation_id: str | None = None) -> str:
    """Bind (or create) the correlation id for the current task."""
    cid = correlation_id or uuid.uuid4().hex
    structlog.contextvars.bind_contextvars(correlation_id=cid)
    return cid


@contextmanager
def correlation_scope(correlation_id: str | None) -> Iterator[str]:
    """Bind a correlation id for the duration of one unit of work."""
    with structlog.contextvars.bound_contextvars(correlation_id=correlation_id or uuid.uuid4().hex):
        yield structlog.contextvars.get_contextvars()["correlation_id"]
