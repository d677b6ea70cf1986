"""Recording user activity off the request path: handlers `record()` an event
(no I/O, never blocks), a background task publishes it with a publisher
confirm, and the writer persists it into `user_activity_log`."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from ticktide_common.bus import Bus
from ticktide_common.logging import get_logger
from ticktide_common.messages import UserActivityV1

__all__ = ["ActivityRecorder"]

log = get_logger(__name__)


class ActivityRecorder:
    """A bounded in-memory queue drained to the bus by one task."""

    def __init__(self, bus: Bus, *, max_pending: int = 10_000) -> None:
        self.bus = bus
        self._queue: asyncio.Queue[UserActivityV1] = asyncio.Queue(max_pending)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._drain(), name="activity-recorder")

    def record(
        self,
        *,
        user_id: int | None,
        username: str | None,
        action: str,
        ip_address: str | None,
        user_agent: str | None,
        details: dict[str, str | int | float | bool | None] | None = None,
    ) -> None:
        event = UserActivityV1(
            user_id=user_id,
            username=username,
            action=action[:200],
            ip_address=ip_address,
            user_agent=(user_agent or None) and user_agent[:512],
            details=details or {},
            at=datetime.now(UTC),
        )
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            log.error("activity.dropped", reason="queue full", action=action, user_id=user_id)

    async def _drain(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self.bus.publish(event)
            except Exception as exc:  # the bus retried until its timeout already
                log.error("activity.publish_failed", error=repr(exc), action=event.action)
            finally:
                self._queue.task_done()

    async def flush(self, timeout: float = 10.0) -> None:
        """Wait until what was recorded is published (tests, shutdown)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
