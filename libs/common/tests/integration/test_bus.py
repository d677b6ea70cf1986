"""The bus against the real RabbitMQ: confirmed publish, ack after effect,
malformed and permanently failing messages in the dead-letter queue."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aio_pika
import pytest

from ticktide_common.bus import Bus
from ticktide_common.errors import PermanentError
from ticktide_common.messages import CryptoBackfillRequestedV1
from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.topology import INGEST_CRYPTO_BACKFILLS, Topology


def _command() -> CryptoBackfillRequestedV1:
    return CryptoBackfillRequestedV1(
        job_id=uuid.uuid4(),
        symbol="BTCUSDT",
        interval="1h",
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 2, tzinfo=UTC),
    )


async def _dlq_bodies(amqp_url: str, topology: Topology) -> list[bytes]:
    connection = await aio_pika.connect(amqp_url)
    bodies = []
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            topology.dlq_name(INGEST_CRYPTO_BACKFILLS), passive=True
        )
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            bodies.append(message.body)
    finally:
        await connection.close()
    return bodies


@pytest.fixture
async def own_bus(settings) -> AsyncIterator[Bus]:
    """A prefix of this test's own: its consumer must not take other tests' messages."""
    topology = Topology(prefix=f"{settings.ticktide_bus_prefix}-{uuid.uuid4().hex[:6]}")
    bus = await Bus.connect(settings.amqp_url, topology, service="bus-tests")
    yield bus
    await bus.close()
    await delete_bus_names(settings.amqp_url, topology)


async def test_handled_permanent_and_malformed_messages(own_bus: Bus, settings) -> None:
    bus, topology = own_bus, own_bus.topology
    seen: list[uuid.UUID] = []
    poison = _command()
    good = _command()

    async def handler(message: CryptoBackfillRequestedV1) -> None:
        if message.job_id == poison.job_id:
            raise PermanentError("cannot do this one")
        seen.append(message.job_id)

    await bus.consume(INGEST_CRYPTO_BACKFILLS, CryptoBackfillRequestedV1, handler)
    await bus.publish(poison)
    # A malformed body straight onto the exchange, bypassing the models.
    exchange = await bus._exchange_for_publish()
    await exchange.publish(
        aio_pika.Message(b'{"job_id": "nope"}'), routing_key=CryptoBackfillRequestedV1.routing_key
    )
    await bus.publish(good)

    for _ in range(100):
        if good.job_id in seen:
            break
        await asyncio.sleep(0.05)
    assert seen == [good.job_id]
    await asyncio.sleep(0.3)
    bodies = await _dlq_bodies(settings.amqp_url, topology)
    assert len(bodies) == 2
    assert any(str(poison.job_id).encode() in b for b in bodies)
    assert b'{"job_id": "nope"}' in bodies
