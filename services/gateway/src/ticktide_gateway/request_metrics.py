"""Per-request measurements: a pure ASGI middleware (streaming responses, SSE
included, pass through untouched) that records each request's route template,
method, status and duration into a Prometheus histogram and into an in-memory
buffer, which a background task writes to `performance_metrics` with one COPY
per batch (every `metrics_flush_seconds`, sooner when `metrics_flush_rows`
accumulate, and once more at shutdown). A failed flush keeps the rows for the
next attempt, up to a bound, then drops the oldest.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import asyncpg
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticktide_common.logging import get_logger

__all__ = [
    "MetricsBuffer",
    "RequestMetricsMiddleware",
    "MetricRow",
    "REQUEST_SECONDS",
    "METRICS_COLUMNS",
    "insert_request_metrics",
]

log = get_logger(__name__)

MetricRow = tuple[str, str, float, int, datetime]
FlushFunction = Callable[[Sequence[MetricRow]], Awaitable[None]]

REQUEST_SECONDS = Histogram(
    "ticktide_http_request_duration_seconds",
    "HTTP request duration by route template",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
METRICS_DROPPED = Counter(
    "ticktide_performance_metrics_dropped_total",
    "request measurements dropped because performance_metrics could not be written",
)

UNMATCHED_ROUTE = "<unmatched>"
# The label of a request answered without routing (a forwarded page, a cached answer).
ROUTE_LABEL_SCOPE_KEY = "ticktide.route_label"


class MetricsBuffer:
    """Rows waiting for the next batch insert."""

    def __init__(self, *, flush_rows: int, flush_seconds: float, max_rows: int | None = None):
        self.flush_rows = max(1, flush_rows)
        self.flush_seconds = flush_seconds
        self.max_rows = max_rows or self.flush_rows * 20
        self._rows: deque[MetricRow] = deque()
        self._full = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush: FlushFunction | None = None
        self.batches_written = 0

    def add(self, row: MetricRow) -> None:
        if len(self._rows) >= self.max_rows:
            self._rows.popleft()
            METRICS_DROPPED.inc()
        self._rows.append(row)
        if len(self._rows) >= self.flush_rows:
            self._full.set()

    def start(self, flush: FlushFunction) -> None:
        self._flush = flush
        self._task = asyncio.create_task(self._run(), name="performance-metrics-flush")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self.flush_seconds)
            self._full.clear()
            await self.flush()

    async def flush(self) -> None:
        if not self._rows or self._flush is None:
            return
        batch = list(self._rows)
        self._rows.clear()
        try:
            await self._flush(batch)
        except Exception as exc:  # the database may be away; keep what fits, retry later
            log.warning("performance_metrics.flush_failed", rows=len(batch), error=repr(exc))
            room = self.max_rows - len(self._rows)
            kept = batch[-room:] if room > 0 else []
            METRICS_DROPPED.inc(len(batch) - len(kept))
            self._rows.extendleft(reversed(kept))
        else:
            self.batches_written += 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # A page forwarded to the web service (web_proxy): one label per first path
    # segment, so ids in paths (/backtests/<id>) do not grow the label set.
    return scope.get(ROUTE_LABEL_SCOPE_KEY) or UNMATCHED_ROUTE


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, buffer: MetricsBuffer) -> None:
        self.app = app
        self.buffer = buffer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        finished: float | None = None
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status, finished
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                finished = time.perf_counter()  # background tasks after this are not counted

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = (finished or time.perf_counter()) - started
            endpoint = route_template(scope)
            method = scope.get("method", "GET")
            REQUEST_SECONDS.labels(endpoint, method, str(status)).observe(elapsed)
            self.buffer.add((endpoint, method, elapsed * 1000.0, status, datetime.now(UTC)))


METRICS_COLUMNS = ("endpoint", "method", "response_time_ms", "status_code", "timestamp")


async def insert_request_metrics(
    pool: asyncpg.Pool, records: Sequence[tuple[str, str, float, int, datetime]]
) -> None:
    """One COPY for a whole batch of request measurements."""
    async with pool.acquire() as connection:
        await connection.copy_records_to_table(
            "performance_metrics", records=records, columns=list(METRICS_COLUMNS)
        )
