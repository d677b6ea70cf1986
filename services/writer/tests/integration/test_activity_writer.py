"""User activity from the bus into `user_activity_log` with the real writer,
PostgreSQL and RabbitMQ: an event published twice is one row, events of a
deleted user keep their username, a malformed message is dead-lettered while
the writer keeps consuming, and a burst is written in a few grouped inserts."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aio_pika
import asyncpg
import pytest
from fastapi import FastAPI

from ticktide_common.bus import Bus
from ticktide_common.messages import UserActivityV1
from ticktide_common.testing.processes import wait_until
from ticktide_common.testing.users import create_test_user
from ticktide_common.topology import WRITER_ACTIVITY, Topology
from ticktide_writer.app import create_app
from ticktide_writer.settings import WriterSettings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def writer_app(settings: WriterSettings, bus: Bus) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def activity(user_id: int | None, username: str | None, **overrides: object) -> UserActivityV1:
    fields: dict[str, object] = {
        "user_id": user_id,
        "username": username,
        "action": "POST /api/admin/ingest/crypto/backfill",
        "ip_address": "203.0.113.7",
        "user_agent": "pytest",
        "details": {"status": 202},
        "at": datetime.now(UTC),
    }
    fields.update(overrides)
    return UserActivityV1.model_validate(fields)


async def rows_of(pool: asyncpg.Pool, *event_ids: uuid.UUID) -> list[asyncpg.Record]:
    return await pool.fetch(
        """SELECT event_id, user_id, action, host(ip_address) AS ip, user_agent, details,
                  timestamp
           FROM user_activity_log WHERE event_id = ANY($1::uuid[]) ORDER BY id""",
        list(event_ids),
    )


async def dlq_depth(settings: WriterSettings, topology: Topology) -> int:
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(topology.dlq_name(WRITER_ACTIVITY), passive=True)
        return queue.declaration_result.message_count or 0
    finally:
        await connection.close()


async def test_event_published_twice_is_one_row(
    writer_app: FastAPI,
    bus: Bus,
    db_pool: asyncpg.Pool,
    settings: WriterSettings,
    topology: Topology,
) -> None:
    dead_before = await dlq_depth(settings, topology)
    user_id, username = await create_test_user(db_pool)
    event = activity(user_id, username)
    await bus.publish(event)
    await bus.publish(event)  # a redelivery, as after a crash before the ack
    later = activity(user_id, username, action="DELETE /api/x")
    await bus.publish(later)

    async def both_stored() -> bool:
        return len(await rows_of(db_pool, event.message_id, later.message_id)) == 2

    await wait_until(both_stored, timeout=15, what="activity rows")
    # The duplicate went through the writer before `later` (one channel, in order).
    rows = await rows_of(db_pool, event.message_id)
    assert len(rows) == 1
    row = rows[0]
    assert (row["user_id"], row["action"], row["ip"], row["user_agent"]) == (
        user_id,
        "POST /api/admin/ingest/crypto/backfill",
        "203.0.113.7",
        "pytest",
    )
    assert json.loads(row["details"]) == {"status": 202, "username": username}
    assert row["timestamp"] == event.at
    # The duplicate was acked as done, not dead-lettered as a failure.
    assert await dlq_depth(settings, topology) == dead_before


async def test_deleted_user_and_odd_values_do_not_block_the_event(
    writer_app: FastAPI, bus: Bus, db_pool: asyncpg.Pool
) -> None:
    user_id, username = await create_test_user(db_pool)
    await db_pool.execute("DELETE FROM users WHERE id = $1", user_id)
    event = activity(
        user_id,
        username,
        ip_address="not-an-ip",
        user_agent="nul\x00byte",
        details={"note": "a\x00b", "ratio": float("nan")},
    )
    await bus.publish(event)

    async def stored() -> bool:
        return len(await rows_of(db_pool, event.message_id)) == 1

    await wait_until(stored, timeout=15, what="the deleted user's activity row")
    row = (await rows_of(db_pool, event.message_id))[0]
    assert row["user_id"] is None and row["ip"] is None
    assert row["user_agent"] == "nulbyte"
    assert json.loads(row["details"]) == {"note": "ab", "ratio": None, "username": username}


async def test_malformed_message_is_dead_lettered_and_consuming_goes_on(
    writer_app: FastAPI,
    bus: Bus,
    db_pool: asyncpg.Pool,
    settings: WriterSettings,
    topology: Topology,
) -> None:
    before = await dlq_depth(settings, topology)
    connection = await aio_pika.connect(settings.amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange(topology.events_exchange)
        for body in (b"{not json", json.dumps({"user_id": "x", "action": 5}).encode()):
            await exchange.publish(
                aio_pika.Message(body, content_type="application/json"),
                routing_key=UserActivityV1.routing_key,
            )
    finally:
        await connection.close()

    async def dead_lettered() -> bool:
        return await dlq_depth(settings, topology) >= before + 2

    await wait_until(dead_lettered, timeout=20, what="two malformed messages in the DLQ")
    after = activity(None, None, action="POST /api/after-dlq")
    await bus.publish(after)

    async def stored() -> bool:
        return len(await rows_of(db_pool, after.message_id)) == 1

    await wait_until(stored, timeout=15, what="an event after the malformed ones")


async def test_a_burst_is_written_in_grouped_inserts(
    writer_app: FastAPI, bus: Bus, db_pool: asyncpg.Pool
) -> None:
    user_id, username = await create_test_user(db_pool)
    events = [activity(user_id, username, action=f"POST /api/burst/{i}") for i in range(200)]
    await asyncio.gather(*(bus.publish(event) for event in events))
    ids = [e.message_id for e in events]

    async def all_stored() -> bool:
        return len(await rows_of(db_pool, *ids)) == len(events)

    await wait_until(all_stored, timeout=30, what="200 activity rows")
    transactions = await db_pool.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM user_activity_log WHERE event_id = ANY($1::uuid[])",
        ids,
    )
    # Delivered together (prefetch), they share transactions.
    assert transactions < len(events)
