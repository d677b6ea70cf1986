"""Unit tests of the shared per-batch reader and its fan-out, over an in-memory
event log that behaves like a Redis stream (XRANGE with an exclusive start,
XREAD BLOCK that waits for an append) and counts its blocking reads."""

from __future__ import annotations

import asyncio

import pytest

from ticktide_common.backtests.events import StreamEntry
from ticktide_gateway.backtests.batch_reader import BatchReaderHub, stream_id_key

FOREVER = 3600.0  # a `next` that must return because something arrived


class MemoryLog:
    def __init__(self) -> None:
        self.entries: dict[str, list[StreamEntry]] = {}
        self.changed = asyncio.Condition()
        self.blocking = 0  # XREAD BLOCK calls in flight
        self.most_blocking = 0
        self.fail_next_reads = 0
        self._seq = 0

    async def append(self, batch_id: str, event: str = "result") -> str:
        self._seq += 1
        entry = StreamEntry(f"{self._seq}-0", event, f'{{"n": {self._seq}}}')
        self.entries.setdefault(batch_id, []).append(entry)
        async with self.changed:
            self.changed.notify_all()
        return entry.id

    def _after(self, batch_id: str, after: str, until: str = "+") -> list[StreamEntry]:
        low = stream_id_key(after)
        return [
            e
            for e in self.entries.get(batch_id, [])
            if stream_id_key(e.id) > low
            and (until == "+" or stream_id_key(e.id) <= stream_id_key(until))
        ]

    async def range(
        self, batch_id: str, after: str, *, until: str = "+", count: int = 500
    ) -> list[StreamEntry]:
        await asyncio.sleep(0)  # a round trip: others run meanwhile
        return self._after(batch_id, after, until)[:count]

    async def read(
        self, batch_id: str, after: str, *, block_ms: int | None = None, count: int = 500
    ) -> list[StreamEntry]:
        if self.fail_next_reads:
            self.fail_next_reads -= 1
            raise ConnectionError("Redis went away")
        self.blocking += 1
        self.most_blocking = max(self.most_blocking, self.blocking)
        try:
            async with self.changed:
                await self.changed.wait_for(lambda: bool(self._after(batch_id, after)))
            return self._after(batch_id, after)[:count]
        finally:
            self.blocking -= 1


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def collect(subscription, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    ids: list[str] = []
    while len(ids) < count:
        ids.extend(e.id for e in await subscription.next(FOREVER))
    return ids


def test_stream_ids_sort_numerically() -> None:
    assert stream_id_key("10-0") > stream_id_key("9-5")
    assert stream_id_key("5-10") > stream_id_key("5-9")
    assert stream_id_key("0") == (0, 0)


async def test_many_subscriptions_share_one_blocking_read_and_leave_nothing_behind() -> None:
    log = MemoryLog()
    hub = BatchReaderHub(log)
    first = await log.append("b")
    async with asyncio.TaskGroup() as group:
        results = []

        async def listen() -> None:
            async with hub.subscribe("b", "0") as subscription:
                results.append(await collect(subscription, 3))

        for _ in range(30):
            group.create_task(listen())
        await settle()
        assert hub.readers == 1 and log.blocking == 1
        second, third = await log.append("b"), await log.append("b")
    assert results == [[first, second, third]] * 30
    assert log.most_blocking == 1
    await settle()
    assert hub.readers == 0 and hub.subscriptions == 0
    assert log.blocking == 0  # the reader's task was cancelled


async def test_a_subscription_replays_after_its_last_event_id_then_follows() -> None:
    log = MemoryLog()
    hub = BatchReaderHub(log, page=2)  # the replay takes several pages
    ids = [await log.append("b") for _ in range(5)]
    async with hub.subscribe("b", ids[1]) as subscription:
        assert await collect(subscription, 3) == ids[2:]
        assert subscription.attached
        later = await log.append("b")
        assert await collect(subscription, 1) == [later]


async def test_a_late_subscription_gets_what_the_reader_passed_before_it_came() -> None:
    log = MemoryLog()
    hub = BatchReaderHub(log)
    ids = [await log.append("b")]
    async with hub.subscribe("b", "0") as early:
        assert await collect(early, 1) == ids
        ids += [await log.append("b"), await log.append("b")]
        assert await collect(early, 2) == ids[1:]
        async with hub.subscribe("b", "0") as late:
            assert await collect(late, 3) == ids
            ids.append(await log.append("b"))
            assert await collect(late, 1) == ids[3:]
            assert await collect(early, 1) == ids[3:]
        assert hub.readers == 1  # the early one still listens


async def test_a_slow_subscription_is_detached_and_catches_up_without_loss() -> None:
    log = MemoryLog()
    hub = BatchReaderHub(log, buffer_chunks=2)
    async with hub.subscribe("b", "0") as fast, hub.subscribe("b", "0") as slow:
        assert await fast.next(0) == [] and await slow.next(0) == []
        assert fast.attached and slow.attached
        ids = []
        for _ in range(6):  # six chunks, the slow one reads none of them
            ids.append(await log.append("b"))
            assert await collect(fast, 1) == ids[-1:]
        assert not slow.attached  # its buffer filled: detached, nothing kept
        assert await collect(slow, 6) == ids
        assert slow.attached
        ids.append(await log.append("b"))
        assert await collect(slow, 1) == ids[-1:]
        assert await collect(fast, 1) == ids[-1:]


async def test_a_failed_read_is_retried_while_someone_listens() -> None:
    log = MemoryLog()
    log.fail_next_reads = 2
    hub = BatchReaderHub(log, retry_seconds=0)
    async with hub.subscribe("b", "0") as subscription:
        assert await subscription.next(0) == []
        entry = await log.append("b")
        assert await collect(subscription, 1) == [entry]


async def test_next_answers_nothing_when_nothing_comes() -> None:
    log = MemoryLog()
    hub = BatchReaderHub(log)
    async with hub.subscribe("b", "0") as subscription:
        assert await subscription.next(0) == []
        assert await subscription.next(-1) == []


async def test_batches_have_readers_of_their_own() -> None:
    log = MemoryLog()
    hub = BatchReaderHub(log)
    async with hub.subscribe("a", "0") as a, hub.subscribe("b", "0") as b:
        await a.next(0)
        await b.next(0)
        assert hub.readers == 2
        entry = await log.append("b")
        assert await collect(b, 1) == [entry]
        assert await a.next(0) == []
    await settle()
    assert hub.readers == 0 and log.blocking == 0


async def test_close_stops_every_reader() -> None:
    log = MemoryLog()
    hub = BatchReaderHub(log)
    async with hub.subscribe("a", "0") as a:
        await a.next(0)
        await hub.close()
        assert hub.readers == 0 and log.blocking == 0


@pytest.mark.parametrize("after", ["0", "0-0"])
async def test_from_the_start(after: str) -> None:
    log = MemoryLog()
    hub = BatchReaderHub(log)
    entry = await log.append("b")
    async with hub.subscribe("b", after) as subscription:
        assert await collect(subscription, 1) == [entry]


class SwallowingLog(MemoryLog):
    """A blocking read that swallows a cancellation, as redis-py can (#2028)."""

    async def read(
        self, batch_id: str, after: str, *, block_ms: int | None = None, count: int = 500
    ) -> list[StreamEntry]:
        self.blocking += 1
        try:
            while True:
                try:
                    async with self.changed:
                        await self.changed.wait_for(lambda: bool(self._after(batch_id, after)))
                    return self._after(batch_id, after)[:count]
                except asyncio.CancelledError:
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
        finally:
            self.blocking -= 1


async def test_a_reader_whose_cancellation_is_swallowed_stops_after_its_read() -> None:
    log = SwallowingLog()
    hub = BatchReaderHub(log)
    async with hub.subscribe("b", "0") as subscription:
        await subscription.next(0)
        await settle()
        assert log.blocking == 1
    await settle()
    assert hub.readers == 0  # gone from the registry at once: a newcomer starts afresh
    assert log.blocking == 1  # still in its read
    await log.append("b")  # the read returns; nobody listens any more
    await settle()
    assert log.blocking == 0
