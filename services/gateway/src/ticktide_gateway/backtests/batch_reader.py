"""One Redis reader per batch, fanned out to every event stream and awaited run
of that batch, so that no number of listeners holds more than one blocking
Redis connection per batch.

- `BatchReaderHub.subscribe(batch_id, after)` gives a `Subscription` whose
  `next()` returns the batch's entries after id `after`, in order, each once.
- A subscription first catches up with non-blocking XRANGE pages, then attaches
  to the batch's reader: one task looping XREAD BLOCK from the last id it read
  and handing every chunk to each attached subscription's bounded buffer.
- A subscription whose buffer is full (a slow client) is detached and catches
  up with XRANGE again from the last entry it returned: memory stays bounded
  and nothing is lost or repeated.
- The reader stops when its last subscription leaves: it leaves the registry at
  once (a newcomer starts a fresh reader) and its task is cancelled, which
  closes its connection (redis-py drops a connection interrupted mid-command).
  redis-py can swallow a cancellation that lands at the wrong moment of a
  blocking command (redis/redis-py#2028), so the loop also ends by itself when
  its read returns and nobody listens: a reader outlives its last listener by
  at most one `block_ms`. A failed read is logged and retried after a pause
  while anyone listens.

No Redis import here: the event log is anything with `read` and `range`
(`BatchEventLog` in production), so the fan-out tests in memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from ticktide_common.backtests.events import StreamEntry
from ticktide_common.logging import get_logger

__all__ = ["BatchReaderHub", "EventSource", "Subscription", "stream_id_key"]

log = get_logger(__name__)


class EventSource(Protocol):
    """The reading side of `BatchEventLog`."""

    async def read(
        self, batch_id: str, after: str, *, block_ms: int | None = None, count: int = 500
    ) -> list[StreamEntry]: ...

    async def range(
        self, batch_id: str, after: str, *, until: str = "+", count: int = 500
    ) -> list[StreamEntry]: ...


def stream_id_key(entry_id: str) -> tuple[int, int]:
    """A Redis stream id (`<ms>-<seq>`, or just `<ms>`) as a sortable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Subscription:
    """One listener's position in a batch's events."""

    def __init__(self, hub: BatchReaderHub, batch_id: str, after: str) -> None:
        self._hub = hub
        self.batch_id = batch_id
        self.last_id = after
        self._last_key = stream_id_key(after)
        self._chunks: deque[list[StreamEntry]] = deque()
        self._reader: _Reader | None = None
        self._wakeup = asyncio.Event()

    @property
    def attached(self) -> bool:
        return self._reader is not None

    async def next(self, timeout: float) -> list[StreamEntry]:
        """The next entries after the last ones returned, or [] when none came
        within `timeout` seconds. Raises what the event log raises on catch-up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(timeout, 0.0)
        while True:
            if self._reader is None:
                caught = await self._catch_up()
                if caught:
                    return caught
            while self._chunks:
                fresh = self._fresh(self._chunks.popleft())
                if fresh:
                    return fresh
            if self._reader is None:  # detached (buffer full) while catching up
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            self._wakeup.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._wakeup.wait()
            except TimeoutError:
                return []

    async def _catch_up(self) -> list[StreamEntry]:
        """A page read with XRANGE; at the end of the stream, attach to the reader
        and read what it had already passed (entries it read before we came)."""
        page_size = self._hub.page
        page = await self._hub.events.range(self.batch_id, self.last_id, count=page_size)
        fresh = self._fresh(page)
        if len(page) >= page_size:
            return fresh
        cursor = self._hub._attach(self)
        while stream_id_key(cursor) > self._last_key:
            gap = await self._hub.events.range(
                self.batch_id, self.last_id, until=cursor, count=page_size
            )
            if not gap:  # trimmed or expired meanwhile
                break
            fresh.extend(self._fresh(gap))
        return fresh

    def _fresh(self, entries: list[StreamEntry]) -> list[StreamEntry]:
        """The entries after the last one returned; the position moves past them."""
        out = [e for e in entries if stream_id_key(e.id) > self._last_key]
        if out:
            self.last_id = out[-1].id
            self._last_key = stream_id_key(self.last_id)
        return out

    def _offer(self, chunk: list[StreamEntry]) -> bool:
        """Called by the reader; False (and detached) when the buffer is full."""
        if len(self._chunks) >= self._hub.buffer_chunks:
            self._chunks.clear()  # read again with XRANGE from `last_id`
            self._reader = None
            self._wakeup.set()
            return False
        self._chunks.append(chunk)
        self._wakeup.set()
        return True


class _Reader:
    """The XREAD BLOCK loop of one batch."""

    def __init__(self, hub: BatchReaderHub, batch_id: str, cursor: str) -> None:
        self.hub = hub
        self.batch_id = batch_id
        self.cursor = cursor
        self.subscribers: set[Subscription] = set()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name=f"batch-reader:{self.batch_id}")

    async def _run(self) -> None:
        hub = self.hub
        try:
            while self.subscribers:
                try:
                    entries = await hub.events.read(
                        self.batch_id, self.cursor, block_ms=hub.block_ms, count=hub.page
                    )
                except Exception as exc:
                    log.warning(
                        "backtest.batch_reader_failed", batch_id=self.batch_id, error=repr(exc)
                    )
                    await asyncio.sleep(hub.retry_seconds)
                    continue
                if not entries:
                    continue
                # No await from here to the end of the fan-out: a subscription
                # attaching sees a cursor whose later entries all reach it.
                self.cursor = entries[-1].id
                for subscription in list(self.subscribers):
                    if not subscription._offer(entries):
                        self.subscribers.discard(subscription)
        finally:
            hub._forget(self)


class BatchReaderHub:
    """The readers of every batch someone listens to."""

    def __init__(
        self,
        events: EventSource,
        *,
        block_ms: int = 2000,
        page: int = 500,
        buffer_chunks: int = 64,
        retry_seconds: float = 1.0,
    ) -> None:
        self.events = events
        self.block_ms = block_ms
        self.page = page
        self.buffer_chunks = buffer_chunks
        self.retry_seconds = retry_seconds
        self._readers: dict[str, _Reader] = {}

    @property
    def readers(self) -> int:
        """Batches with a running reader."""
        return len(self._readers)

    @property
    def subscriptions(self) -> int:
        """Subscriptions attached to a reader (not those catching up)."""
        return sum(len(r.subscribers) for r in self._readers.values())

    @asynccontextmanager
    async def subscribe(self, batch_id: str, after: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(self, batch_id, after)
        try:
            yield subscription
        finally:
            self._detach(subscription)

    def _attach(self, subscription: Subscription) -> str:
        """Attach to the batch's reader (started if none); returns its cursor."""
        reader = self._readers.get(subscription.batch_id)
        if reader is None:
            reader = _Reader(self, subscription.batch_id, subscription.last_id)
            self._readers[subscription.batch_id] = reader
            reader.subscribers.add(subscription)
            reader.start()
        else:
            reader.subscribers.add(subscription)
        subscription._reader = reader
        return reader.cursor

    def _detach(self, subscription: Subscription) -> None:
        reader, subscription._reader = subscription._reader, None
        if reader is None:
            return
        reader.subscribers.discard(subscription)
        if not reader.subscribers:
            self._forget(reader)
            if reader.task is not None:
                reader.task.cancel()

    def _forget(self, reader: _Reader) -> None:
        if self._readers.get(reader.batch_id) is reader:
            del self._readers[reader.batch_id]

    async def close(self) -> None:
        """Stop every reader (at shutdown)."""
        tasks = [r.task for r in self._readers.values() if r.task is not None]
        self._readers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
