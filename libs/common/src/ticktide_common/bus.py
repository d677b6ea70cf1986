"""The RabbitMQ bus over aio-pika.

- `connect_robust`: connections and consumers come back after a broker restart
  or `rabbitmqctl close_all_connections`.
- `publish` waits for the broker's confirm, retrying across a reconnect until
  the timeout; an unconfirmed message raises `PublishError`, never vanishes.
- `consume` acks only after the handler returned (its effect is committed),
  rejects malformed messages and `PermanentError`s to the dead-letter queue,
  and requeues anything else with backoff; the queue's delivery limit moves a
  message that keeps failing to the dead-letter queue too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractRobustConnection,
)
from pamqp.commands import Basic
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from ticktide_common.errors import PermanentError, PublishError
from ticktide_common.logging import correlation_scope, get_logger
from ticktide_common.messages import BusMessage
from ticktide_common.settings import BusSettings
from ticktide_common.topology import QueueSpec, Topology

__all__ = ["Bus", "MessageHandler"]

M = TypeVar("M", bound=BusMessage)
T = TypeVar("T")
MessageHandler = Callable[[T], Awaitable[None]]

log = get_logger(__name__)

_RETRYABLE = (
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,
    ConnectionError,
    asyncio.TimeoutError,
    RuntimeError,
)


class Bus:
    """One robust connection, one confirmed publishing channel, and consumers."""

    def __init__(
        self, connection: AbstractRobustConnection, topology: Topology, publish_timeout: float
    ) -> None:
        self.connection = connection
        self.topology = topology
        self.publish_timeout = publish_timeout
        self._publish_channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._consumer_channels: list[AbstractChannel] = []
        self._publish_lock = asyncio.Lock()

    @classmethod
    async def connect(
        cls, url: str, topology: Topology, *, service: str, publish_timeout: float = 15.0
    ) -> Bus:
        connection = await aio_pika.connect_robust(
            url, client_properties={"connection_name": f"{topology.prefix}:{service}"}
        )
        bus = cls(connection, topology, publish_timeout)
        await bus.declare_topology()
        return bus

    @classmethod
    async def connect_with(cls, settings: BusSettings, *, service: str) -> Bus:
        """The installation's bus as `settings` name it (URL, prefix, delivery
        limit, publish timeout): how every service connects."""
        topology = Topology(
            prefix=settings.ticktide_bus_prefix, default_delivery_limit=settings.bus_delivery_limit
        )
        return await cls.connect(
            settings.amqp_url,
            topology,
            service=service,
            publish_timeout=settings.bus_publish_timeout_seconds,
        )

    async def declare_topology(self) -> None:
        """Declare exchanges, every queue, its dead-letter queue and bindings."""
        channel = await self.connection.channel()
        try:
            events = await channel.declare_exchange(
                self.topology.events_exchange, aio_pika.ExchangeType.TOPIC, durable=True
            )
            dlx = await channel.declare_exchange(
                self.topology.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True
            )
            for spec in self.topology.queues:
                dlq = await channel.declare_queue(
                    self.topology.dlq_name(spec),
                    durable=True,
                    arguments={"x-queue-type": "quorum"},
                )
                await dlq.bind(dlx, routing_key=self.topology.queue_name(spec))
                queue = await channel.declare_queue(
                    self.topology.queue_name(spec),
                    durable=True,
                    arguments=self.topology.queue_arguments(spec),
                )
                for key in spec.routing_keys:
                    await queue.bind(events, routing_key=key)
        finally:
            await channel.close()

    async def _exchange_for_publish(self) -> AbstractExchange:
        if self._publish_channel is None or self._publish_channel.is_closed:
            self._publish_channel = await self.connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._exchange = await self._publish_channel.get_exchange(
                self.topology.events_exchange, ensure=False
            )
        assert self._exchange is not None
        return self._exchange

    async def publish(
        self,
        message: BusMessage,
        *,
        correlation_id: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Publish persistently and wait for the broker's confirm (or raise)."""
        body = message.model_dump_json().encode()
        amqp_message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(message.message_id),
            correlation_id=correlation_id,
            type=message.routing_key,
        )
        deadline = timeout if timeout is not None else self.publish_timeout
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(_RETRYABLE),
                wait=wait_exponential(multiplier=0.1, max=2.0),
                stop=stop_after_delay(deadline),
                reraise=True,
            ):
                with attempt:
                    exchange = await self._exchange_for_publish()
                    confirmation = await exchange.publish(
                        amqp_message,
                        routing_key=message.routing_key,
                        timeout=max(1.0, deadline),
                    )
                    if not isinstance(confirmation, Basic.Ack):
                        raise PublishError(f"broker refused {message.routing_key}: {confirmation}")
        except PublishError:
            raise
        except Exception as exc:
            raise PublishError(
                f"{message.routing_key} not confirmed within {deadline}s: {exc!r}"
            ) from exc

    async def consume(
        self, spec: QueueSpec, model: type[M], handler: MessageHandler[M], *, prefetch: int = 8
    ) -> None:
        """Start consuming `spec` with `handler`; returns once the consumer runs."""
        await self.consume_decoded(spec, model.model_validate_json, handler, prefetch=prefetch)

    async def consume_decoded(
        self,
        spec: QueueSpec,
        decode: Callable[[bytes], T],
        handler: MessageHandler[T],
        *,
        prefetch: int = 8,
    ) -> None:
        """`consume` with a decoder of the consumer's own (the writer's candle
        batches): `decode` turns a body into what `handler` takes and raises
        pydantic's ValidationError for a malformed one, which is dead-lettered."""
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        self._consumer_channels.append(channel)
        queue = await channel.declare_queue(
            self.topology.queue_name(spec),
            durable=True,
            arguments=self.topology.queue_arguments(spec),
        )

        async def on_message(incoming: AbstractIncomingMessage) -> None:
            await _dispatch(incoming, decode, handler)

        await queue.consume(on_message)

    async def queue_status(self, spec: QueueSpec) -> tuple[int, int]:
        """(messages ready, consumers) of a queue, by a passive declare."""
        channel = await self.connection.channel()
        try:
            queue = await channel.declare_queue(self.topology.queue_name(spec), passive=True)
            result = queue.declaration_result
            return result.message_count or 0, result.consumer_count or 0
        finally:
            await channel.close()

    async def close(self) -> None:
        for channel in self._consumer_channels:
            with contextlib.suppress(Exception):
                await channel.close()
        with contextlib.suppress(Exception):
            await self.connection.close()


async def _dispatch(
    incoming: AbstractIncomingMessage, decode: Callable[[bytes], T], handler: MessageHandler[T]
) -> None:
    with correlation_scope(incoming.correlation_id):
        try:
            message = decode(incoming.body)
        except ValidationError as exc:
            log.error(
                "message.malformed",
                routing_key=incoming.routing_key,
                errors=exc.errors(include_url=False)[:5],
            )
            await _settle(incoming.reject(requeue=False))
            return
        try:
            await handler(message)
        except PermanentError as exc:
            log.error("message.permanent_failure", routing_key=incoming.routing_key, error=str(exc))
            await _settle(incoming.reject(requeue=False))
        except Exception as exc:  # transient by default: retry, the delivery limit bounds it
            attempts = _delivery_count(incoming)
            log.warning(
                "message.retry",
                routing_key=incoming.routing_key,
                error=repr(exc),
                delivery_count=attempts,
            )
            await asyncio.sleep(min(0.2 * 2**attempts, 5.0))
            await _settle(incoming.nack(requeue=True))
        else:
            await _settle(incoming.ack())


def _delivery_count(incoming: AbstractIncomingMessage) -> int:
    value = (incoming.headers or {}).get("x-delivery-count", 0)
    return int(value) if isinstance(value, int) else 0


async def _settle(settlement: Awaitable[None]) -> None:
    """Ack/nack/reject; if the channel died meanwhile the broker redelivers."""
    try:
        await settlement
    except Exception as exc:
        log.warning("message.settle_failed", error=repr(exc))
