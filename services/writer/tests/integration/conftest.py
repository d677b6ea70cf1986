"""Fixtures for the stock and weather writer tests: the writer app running on a
bus prefix of its own per test (no other consumer competes for its queues,
and its dead-letter queues start empty), deleted afterwards; helpers to
publish raw bodies and read a dead-letter queue's depth."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aio_pika
import pytest
from fastapi import FastAPI

from ticktide_common.bus import Bus
from ticktide_common.testing.fixtures import delete_bus_names
from ticktide_common.topology import QueueSpec, Topology
from ticktide_writer.app import create_app
from ticktide_writer.settings import WriterSettings


@dataclass
class IsolatedWriter:
    """The running writer app and a bus on its private prefix."""

    app: FastAPI
    bus: Bus
    settings: WriterSettings
    topology: Topology

    async def publish_raw(self, body: bytes, routing_key: str) -> None:
        """Publish a body as it is (no model): what a broken producer might send."""
        connection = await aio_pika.connect(self.settings.amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(self.topology.events_exchange)
            await exchange.publish(
                aio_pika.Message(body, content_type="application/json"), routing_key=routing_key
            )
        finally:
            await connection.close()

    async def dlq_depth(self, spec: QueueSpec) -> int:
        connection = await aio_pika.connect(self.settings.amqp_url)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(self.topology.dlq_name(spec), passive=True)
            return queue.declaration_result.message_count or 0
        finally:
            await connection.close()


@pytest.fixture
async def isolated_writer(settings: WriterSettings) -> AsyncIterator[IsolatedWriter]:
    prefix = f"{settings.ticktide_bus_prefix}-w{uuid.uuid4().hex[:6]}"
    writer_settings = settings.model_copy(update={"ticktide_bus_prefix": prefix})
    topology = Topology(prefix=prefix, default_delivery_limit=settings.bus_delivery_limit)
    bus = await Bus.connect(settings.amqp_url, topology, service="writer-tests")
    app = create_app(writer_settings)
    try:
        async with app.router.lifespan_context(app):
            yield IsolatedWriter(app, bus, writer_settings, topology)
    finally:
        await bus.close()
        await delete_bus_names(settings.amqp_url, topology)
