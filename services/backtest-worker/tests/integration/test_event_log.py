"""A batch's event log on the real Redis: a job is announced once however often it
is appended (redelivery), progress counts and the summary come once, reads resume
after an id, and the SSE generator honours its lifetime and keep-alive."""

from __future__ import annotations

import json
import uuid

import pytest
from redis.asyncio import Redis

from ticktide_backtest_worker.settings import WorkerSettings
from ticktide_common.backtests.events import BatchEventLog
from ticktide_gateway.backtests.batch_reader import BatchReaderHub
from ticktide_gateway.backtests.sse import batch_event_stream
from ticktide_gateway.backtests.stream_limits import ConcurrencyLimit

pytestmark = pytest.mark.integration


@pytest.fixture
def event_log(redis_client: Redis, settings: WorkerSettings) -> BatchEventLog:
    return BatchEventLog(
        redis_client, settings.ticktide_redis_prefix, maxlen=10_000, ttl_seconds=60
    )


async def test_a_job_is_announced_once_and_progress_counts_jobs(event_log: BatchEventLog) -> None:
    batch = str(uuid.uuid4())
    queued_id = await event_log.append(batch, "queued", {"jobs": 2})
    result = ("result", {"job_id": 0, "metrics": {"sharpe": 1.5, "profit_factor": float("inf")}})
    first = await event_log.append_job(
        batch_id=batch,
        job_id=0,
        outcome="done",
        total_jobs=2,
        created_at=100.0,
        now=110.0,
        events=[result],
    )
    again = await event_log.append_job(
        batch_id=batch,
        job_id=0,
        outcome="done",
        total_jobs=2,
        created_at=100.0,
        now=111.0,
        events=[result],
    )
    assert first == (1, True) and again == (1, False)
    last = await event_log.append_job(
        batch_id=batch,
        job_id=1,
        outcome="failed",
        total_jobs=2,
        created_at=100.0,
        now=120.0,
        events=[("error", {"job_id": 1, "error": "boom"})],
    )
    assert last == (2, True)
    assert await event_log.append_summary(batch, {"results": 1}) is True
    assert await event_log.append_summary(batch, {"results": 1}) is False

    entries = await event_log.read(batch, "0")
    kinds = [e.event for e in entries]
    assert kinds == ["queued", "result", "progress", "error", "progress", "summary"]
    assert entries[0].id == queued_id
    progress = [json.loads(e.data) for e in entries if e.event == "progress"]
    assert [(p["done"], p["total"], p["failed"]) for p in progress] == [(1, 2, 0), (2, 2, 1)]
    assert progress[0]["eta_seconds"] == 10.0 and progress[1]["eta_seconds"] == 0
    assert json.loads(entries[1].data)["metrics"]["profit_factor"] is None  # inf is not JSON
    after_second = await event_log.read(batch, entries[1].id)
    assert [e.id for e in after_second] == [e.id for e in entries[2:]]


async def _still_valid() -> str | None:
    return None


def _stream(event_log: BatchEventLog, batch: str, limit: ConcurrencyLimit, **kwargs: float):  # type: ignore[no-untyped-def]
    return batch_event_stream(
        BatchReaderHub(event_log),
        batch,
        "0",
        recheck=_still_valid,
        recheck_seconds=60,
        lease=limit.acquire(1),
        **kwargs,
    )


async def test_sse_generator_replays_then_closes_at_its_lifetime(event_log: BatchEventLog) -> None:
    batch = str(uuid.uuid4())
    entry_id = await event_log.append(batch, "queued", {"jobs": 1})
    limit = ConcurrencyLimit("event streams", per_user=1, total=1)
    chunks = [
        chunk async for chunk in _stream(event_log, batch, limit, lifetime=2.5, keepalive=1.0)
    ]
    assert limit.active == 0  # the stream gave its lease back
    text = b"".join(chunks).decode()
    assert f'event: queued\ndata: {{"jobs": 1}}\nid: {entry_id}\n\n' in text
    assert ": keep-alive" in text  # nothing new for `keepalive` seconds
    assert text.rstrip().endswith(": lifetime reached; reconnect with Last-Event-ID")
    assert text.count("event: queued") == 1


async def test_sse_generator_ends_after_the_summary(event_log: BatchEventLog) -> None:
    batch = str(uuid.uuid4())
    await event_log.append(batch, "queued", {"jobs": 1})
    await event_log.append_summary(batch, {"results": 0})
    limit = ConcurrencyLimit("event streams", per_user=1, total=1)
    chunks = [c async for c in _stream(event_log, batch, limit, lifetime=60)]
    assert limit.active == 0
    text = b"".join(chunks).decode()
    assert text.count("event: ") == 2 and "event: summary" in text
