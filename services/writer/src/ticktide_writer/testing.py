"""The real writer in-process, for the tests of the services that feed it.

`running_writer` starts the writer's consumers with `start_writers`, the very
function the writer's lifespan calls, on a test's pool and bus (its isolated
database and bus prefix), and stops them on exit with `Writers.stop`, as the
lifespan does. So a producer's test stores through the writer's own SQL and
fails if the writer changes incompatibly.

    async with running_writer(writer_settings, pool=db_pool, bus=bus) as writer:
        ...                                   # publish; the writer stores and announces
        writer.received(CandleBatchV1)        # the batches it took, in arrival order

Without `pool` or `bus` it opens its own on the settings' database and prefix
(and closes them after), as the service does. `writer` is the same as a pytest
fixture on a test's `isolated_bus` and `db_pool`: import it into a conftest
that defines `isolated_bus` (`from ticktide_writer.testing import writer as writer`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import asyncpg
import pytest

from ticktide_common.bus import Bus, MessageHandler
from ticktide_common.db import create_pool
from ticktide_common.messages import BusMessage, CandleBatchV1
from ticktide_common.testing.fixtures import IsolatedBus, settings_for
from ticktide_common.topology import WRITER_CANDLES, QueueSpec
from ticktide_writer.app import SERVICE, Writers, connect_bus, start_writers
from ticktide_writer.settings import WriterSettings

__all__ = ["RunningWriter", "running_writer", "writer"]

M = TypeVar("M", bound=BusMessage)
T = TypeVar("T")
# The message model of each queue whose bodies the writer decodes itself
# (`Bus.consume_decoded`): what `received` records for it.
_QUEUE_MODELS: dict[QueueSpec, type[BusMessage]] = {WRITER_CANDLES: CandleBatchV1}
# Per message model, what the writer's consumers took (a live list each).
_Received = dict[type[BusMessage], list[Any]]


@dataclass
class RunningWriter:
    """The running writer: its consumers and what they took from their queues."""

    writers: Writers
    pool: asyncpg.Pool
    bus: Bus
    _received: _Received = field(default_factory=dict)

    def received(self, model: type[M]) -> list[M]:
        """Every `model` message the writer took, in arrival order (a redelivery
        counts again); the same live list on each call."""
        return _live(self._received, model)


def _live(received: _Received, model: type[M]) -> list[M]:
    return cast(list[M], received.setdefault(model, []))


class _ObservedBus:
    """The bus as `start_writers` sees it: each message a consumer takes is
    recorded (as its message model) before the writer's handler runs;
    everything else is the bus."""

    def __init__(self, bus: Bus, received: _Received) -> None:
        self._bus = bus
        self._received = received

    async def consume(
        self, spec: QueueSpec, model: type[M], handler: MessageHandler[M], *, prefetch: int = 8
    ) -> None:
        received = _live(self._received, model)

        async def observed(message: M) -> None:
            received.append(message)
            await handler(message)

        await self._bus.consume(spec, model, observed, prefetch=prefetch)

    async def consume_decoded(
        self,
        spec: QueueSpec,
        decode: Callable[[bytes], T],
        handler: MessageHandler[T],
        *,
        prefetch: int = 8,
    ) -> None:
        model = _QUEUE_MODELS[spec]
        received = _live(self._received, model)

        def observed(body: bytes) -> T:
            decoded = decode(body)  # a malformed body raises here, and is not recorded
            received.append(model.model_validate_json(body))
            return decoded

        await self._bus.consume_decoded(spec, observed, handler, prefetch=prefetch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bus, name)


@asynccontextmanager
async def running_writer(
    settings: WriterSettings, *, pool: asyncpg.Pool | None = None, bus: Bus | None = None
) -> AsyncIterator[RunningWriter]:
    """The writer's four consumers running until the block ends, then stopped
    (what they hold is written and announced first)."""
    async with AsyncExitStack() as stack:
        if pool is None:
            pool = await create_pool(
                settings.database_url,
                min_size=1,
                max_size=4,
                application_name=f"ticktide-{SERVICE}-tests",
            )
            stack.push_async_callback(pool.close)
        if bus is None:
            bus = await connect_bus(settings)
            stack.push_async_callback(bus.close)
        received: _Received = {}
        writers = await start_writers(pool, cast(Bus, _ObservedBus(bus, received)), settings)
        stack.push_async_callback(writers.stop)
        yield RunningWriter(writers, pool, bus, received)


@pytest.fixture
async def writer(isolated_bus: IsolatedBus, db_pool: asyncpg.Pool) -> AsyncIterator[RunningWriter]:
    """The real writer's consumers on the test's isolated bus and database."""
    settings = settings_for(WriterSettings, isolated_bus.settings)
    async with running_writer(settings, pool=db_pool, bus=isolated_bus.bus) as running:
        yield running
