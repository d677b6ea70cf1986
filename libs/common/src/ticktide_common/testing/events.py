"""`EventProbe`: what a test sees of one event on the run's events exchange.

It binds its own exclusive, server-named queue, so it observes the event
without taking it from any service's queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from ticktide_common.messages import BusMessage
from ticktide_common.topology import Topology

__all__ = ["EventProbe"]

M = TypeVar("M", bound=BusMessage)


class EventProbe(Generic[M]):
    """Collects every `model` event published while the probe is open."""

    def __init__(self, amqp_url: str, topology: Topology, model: type[M]) -> None:
        self._amqp_url = amqp_url
        self._topology = topology
        self._model = model
        self._connection: AbstractRobustConnection | None = None
        self.events: list[M] = []
        self._arrived = asyncio.Event()

    async def __aenter__(self) -> EventProbe[M]:
        self._connection = await aio_pika.connect_robust(self._amqp_url)
        channel = await self._connection.channel()
        exchange = await channel.get_exchange(self._topology.events_exchange)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=self._model.routing_key)
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def _on_message(self, incoming: AbstractIncomingMessage) -> None:
        self.events.append(self._model.model_validate_json(incoming.body))
        self._arrived.set()

    def matching(self, predicate: Callable[[M], bool]) -> list[M]:
        return [event for event in self.events if predicate(event)]

    async def wait_for(
        self, predicate: Callable[[M], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[M]:
        """The events matching `predicate` once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        while len(found := self.matching(predicate)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s: {len(found)} of {count} "
                    f"{self._model.__name__} events (saw {len(self.events)} in all)"
                )
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.5))
            except TimeoutError:
                pass
        return found
