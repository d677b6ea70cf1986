"""The SSE stream of one batch, read from its Redis event stream.

Replays every entry after `Last-Event-ID` (exclusive; from the start without
one), then waits for new ones with XREAD BLOCK. A comment line goes out when
nothing was sent for `keepalive` seconds; the response ends after `summary`, or
after `lifetime` seconds (the client reconnects with `Last-Event-ID` and loses
nothing), or when the client goes away (Starlette cancels the generator; the
`finally` logs it). Nothing is subscribed server-side: XREAD holds no state
between calls, so a disconnect leaks nothing.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

from fastapi.sse import EventSourceResponse, format_sse_event

from ticktide_backtest_worker.events import BatchEventLog
from ticktide_common.logging import get_logger

__all__ = ["batch_event_stream", "event_stream_response", "valid_last_event_id"]

log = get_logger(__name__)

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
_BLOCK_MS = 2000
KEEPALIVE_SECONDS = 10.0
RETRY_MS = 1000


def valid_last_event_id(value: str | None) -> str:
    """The stream id to read after: the header when it is a stream id, else "0"."""
    if value and _STREAM_ID.match(value.strip()):
        return value.strip()
    return "0"


async def batch_event_stream(
    events: BatchEventLog,
    batch_id: str,
    after: str,
    *,
    lifetime: float,
    keepalive: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[bytes]:
    started = last_sent = time.monotonic()
    sent = 0
    reason = "disconnected"
    try:
        yield format_sse_event(retry=RETRY_MS, comment=f"batch {batch_id}")
        while True:
            now = time.monotonic()
            if now - started >= lifetime:
                reason = "lifetime"
                yield format_sse_event(comment="lifetime reached; reconnect with Last-Event-ID")
                return
            entries = await events.read(batch_id, after, block_ms=_BLOCK_MS)
            for entry in entries:
                after = entry.id
                sent += 1
                yield format_sse_event(data_str=entry.data, event=entry.event, id=entry.id)
                if entry.event == "summary":
                    reason = "summary"
                    return
            if entries:
                last_sent = time.monotonic()
            elif time.monotonic() - last_sent >= keepalive:
                last_sent = time.monotonic()
                yield format_sse_event(comment="keep-alive")
    finally:
        log.info("backtest.sse_closed", batch_id=batch_id, events=sent, reason=reason)


def event_stream_response(
    events: BatchEventLog, batch_id: str, after: str, *, lifetime: float
) -> EventSourceResponse:
    return EventSourceResponse(
        batch_event_stream(events, batch_id, after, lifetime=lifetime),
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
