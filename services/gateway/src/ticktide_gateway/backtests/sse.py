"""The SSE stream of one batch, served from the batch's shared reader
(`batch_reader`): no stream holds a Redis connection of its own.

Replays every entry after `Last-Event-ID` (exclusive; from the start without
one), then sends new ones as the reader hands them over. A comment line goes
out when nothing was sent for `keepalive` seconds. The response ends, with a
comment saying why:
- after `summary`;
- after `lifetime` seconds (the client reconnects with `Last-Event-ID` and
  loses nothing);
- when the credential it was opened with no longer holds (re-checked every
  `recheck_seconds`: session ended or timed out, token revoked, user disabled);
- when the event store fails;
- or when the client goes away (Starlette cancels the response).
The stream's lease (`stream_limits`) is given back in `finally` on every path.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator
from typing import Any

from fastapi.sse import EventSourceResponse, format_sse_event
from redis.exceptions import RedisError
from starlette.types import Receive, Scope, Send

from ticktide_common.logging import get_logger
from ticktide_gateway.auth import PrincipalCheck
from ticktide_gateway.backtests.batch_reader import BatchReaderHub
from ticktide_gateway.backtests.stream_limits import Lease

__all__ = ["batch_event_stream", "event_stream_response", "valid_last_event_id"]

log = get_logger(__name__)

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
KEEPALIVE_SECONDS = 10.0
RETRY_MS = 1000


def valid_last_event_id(value: str | None) -> str:
    """The stream id to read after: the header when it is a stream id, else "0"."""
    if value and _STREAM_ID.match(value.strip()):
        return value.strip()
    return "0"


async def batch_event_stream(
    hub: BatchReaderHub,
    batch_id: str,
    after: str,
    *,
    lifetime: float,
    recheck: PrincipalCheck,
    recheck_seconds: float,
    lease: Lease,
    keepalive: float = KEEPALIVE_SECONDS,
) -> AsyncGenerator[bytes, None]:
    started = last_sent = time.monotonic()
    next_check = started + recheck_seconds
    sent = 0
    reason = "disconnected"
    try:
        yield format_sse_event(retry=RETRY_MS, comment=f"batch {batch_id}")
        async with hub.subscribe(batch_id, after) as subscription:
            while True:
                now = time.monotonic()
                if now - started >= lifetime:
                    reason = "lifetime"
                    yield format_sse_event(comment="lifetime reached; reconnect with Last-Event-ID")
                    return
                if now >= next_check:
                    why = await recheck()
                    if why is not None:
                        reason = "credential"
                        yield format_sse_event(comment=f"{why}; stream closed")
                        return
                    next_check = time.monotonic() + recheck_seconds
                wait = min(started + lifetime, next_check, last_sent + keepalive) - now
                try:
                    entries = await subscription.next(wait)
                except (RedisError, OSError, TimeoutError) as exc:
                    reason = "store"
                    log.error("backtest.sse_read_failed", batch_id=batch_id, error=repr(exc))
                    yield format_sse_event(
                        comment="event store unavailable; reconnect with Last-Event-ID"
                    )
                    return
                for entry in entries:
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
        lease.release()
        log.info("backtest.sse_closed", batch_id=batch_id, events=sent, reason=reason)


class _LeasedEventStream(EventSourceResponse):
    """Closes its body and gives its lease back however the response ends: a
    client gone while the body waits to send leaves the generator suspended at a
    `yield`, and only closing it runs its `finally` (which leaves the batch's
    reader) now rather than at some later garbage collection; a client gone
    before the first byte never started it at all."""

    def __init__(self, content: AsyncGenerator[bytes, None], lease: Lease, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._body = content
        self.lease = lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            try:
                await self._body.aclose()
            finally:
                self.lease.release()


def event_stream_response(
    hub: BatchReaderHub,
    batch_id: str,
    after: str,
    *,
    lifetime: float,
    recheck: PrincipalCheck,
    recheck_seconds: float,
    lease: Lease,
) -> EventSourceResponse:
    return _LeasedEventStream(
        batch_event_stream(
            hub,
            batch_id,
            after,
            lifetime=lifetime,
            recheck=recheck,
            recheck_seconds=recheck_seconds,
            lease=lease,
        ),
        lease,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
