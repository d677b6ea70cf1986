"""Persisting user activity: the `writer.activity` handler and the loop that
writes what arrives together (up to `max_group` events, waiting at most
`max_wait` seconds for more) with ONE insert, in one transaction. Each handler
returns — and the bus acks its message — only after the commit. The insert is
idempotent on `event_id` (the message id), so a redelivered event adds nothing.

A group that fails is retried event by event, so one bad event cannot hold its
neighbours back; a data error of a single event dead-letters it, anything else
(the database away) is retried by the bus.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
from prometheus_client import Counter

from ticktide_common.errors import PermanentError, TransientError
from ticktide_common.logging import get_logger
from ticktide_common.messages import UserActivityV1
from ticktide_writer.activity_rows import ActivityRow, activity_row
from ticktide_writer.repository import WriterRepository
from ticktide_writer.settling import settle

__all__ = ["ActivityWriter"]

log = get_logger(__name__)

ACTIVITY_EVENTS = Counter(
    "ticktide_writer_activity_events_total",
    "User activity events handled, by outcome (stored, duplicate, failed).",
    ["outcome"],
)


@dataclass
class _Pending:
    row: ActivityRow
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, error: BaseException | None = None) -> None:
        settle(self.done, error)


class ActivityWriter:
    """Writes delivered activity events in groups; `handle` is the bus handler."""

    def __init__(
        self, repository: WriterRepository, *, max_group: int = 500, max_wait: float = 0.01
    ) -> None:
        self._repository = repository
        self._max_group = max(1, max_group)
        self._max_wait = max_wait
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_loop(), name="activity-writer")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking events; write what is queued (bounded)."""
        self._stopping = True
        self._queue.put_nowait(None)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                log.warning("activity_writer.stop_timeout", queued=self._queue.qsize())

    async def handle(self, event: UserActivityV1) -> None:
        """Return once the event is committed; raise otherwise."""
        if self._stopping:
            raise TransientError("writer is stopping")
        pending = _Pending(activity_row(event))
        self._queue.put_nowait(pending)
        await pending.done

    async def _write_loop(self) -> None:
        while True:
            group = await self._next_group()
            if not group:
                return
            await self._write_group(group)

    async def _next_group(self) -> list[_Pending]:
        first = await self._queue.get()
        if first is None:
            return []
        group = [first]
        deadline = time.monotonic() + self._max_wait
        while len(group) < self._max_group:
            remaining = deadline - time.monotonic()
            try:
                item = (
                    self._queue.get_nowait()
                    if remaining <= 0 or not self._queue.empty()
                    else await asyncio.wait_for(self._queue.get(), remaining)
                )
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if item is None:  # stop requested: write this group, then end
                self._queue.put_nowait(None)
                break
            group.append(item)
        return group

    async def _write_group(self, group: Sequence[_Pending]) -> None:
        """One insert for the group; never raises (outcomes go to the handlers)."""
        try:
            stored = await self._repository.insert_activity([p.row for p in group])
        except Exception as exc:
            if len(group) > 1:
                log.warning(
                    "activity.group_failed_retrying_singly", events=len(group), error=repr(exc)
                )
                for pending in group:
                    await self._write_group([pending])
                return
            ACTIVITY_EVENTS.labels("failed").inc()
            group[0].settle(_classify(exc))
            return
        ACTIVITY_EVENTS.labels("stored").inc(stored)
        ACTIVITY_EVENTS.labels("duplicate").inc(len(group) - stored)
        log.debug("activity.committed", events=len(group), stored=stored)
        for pending in group:
            pending.settle()


def _classify(exc: Exception) -> Exception:
    """A data error of one event goes to the dead-letter queue; the rest retry."""
    if isinstance(exc, (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError)):
        return PermanentError(f"activity event rejected by the database: {exc}")
    return exc
