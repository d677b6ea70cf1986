"""The wiring every ingester's `app.py` shares (crypto, stocks, weather).

`IngesterSettings` is the set of mixins every ingester reads; each one's own
class (`ticktide_ingest_<x>/settings.py`) adds its provider's fields. In the
lifespan, over one `AsyncExitStack`: `open_pool` and `open_bus` (each closed on
exit), then, once the service built its clients and ingester,
`start_consuming` starts the consumers (backfill commands, stored events), the
periodic loops and the heartbeat. An app opens its HTTP clients before the bus,
so that on exit everything stops in reverse order: the heartbeat, the loops,
the bus (no handler runs any more), the HTTP clients, the pool.
`PoolDep` / `BusDep` / `ChecksDep` (and `state_dependency` for an app's own
entries) read the typed lifespan state from `request.state`, as the gateway's
`deps` do. `serve` is every ingester's `__main__`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, Request

from ticktide_common.bus import Bus, MessageHandler
from ticktide_common.db import create_pool
from ticktide_common.health import ReadinessCheck, bus_check, postgres_check
from ticktide_common.heartbeat import start_heartbeat
from ticktide_common.periodic import run_periodically, stop_tasks
from ticktide_common.service import run_service
from ticktide_common.settings import (
    BusSettings,
    DatabaseSettings,
    HistoryBoundsSettings,
    MarketCatalogueSettings,
    ServiceSettings,
    UpstreamHttpSettings,
)
from ticktide_common.topology import QueueSpec, Topology

__all__ = [
    "BusDep",
    "ChecksDep",
    "Consumer",
    "IngesterSettings",
    "Periodic",
    "PoolDep",
    "open_bus",
    "open_pool",
    "serve",
    "start_consuming",
    "state_dependency",
]


class IngesterSettings(
    DatabaseSettings,
    BusSettings,
    MarketCatalogueSettings,
    HistoryBoundsSettings,
    UpstreamHttpSettings,
):
    """What every ingester reads: database, bus, the catalogue, history bounds and
    the upstream HTTP policy (its own class adds the provider's fields)."""


@dataclass(frozen=True)
class Consumer:
    """One queue the ingester consumes, with the message model and its handler."""

    queue: QueueSpec
    model: type[Any]
    handler: MessageHandler[Any]


@dataclass(frozen=True)
class Periodic:
    """One background loop: `action` every `seconds` (see `run_periodically`)."""

    action: Callable[[], Awaitable[object]]
    seconds: float
    name: str


async def open_pool(
    stack: AsyncExitStack, settings: DatabaseSettings, service: str
) -> asyncpg.Pool:
    """The service's pool, closed when `stack` exits."""
    pool = await create_pool(
        settings.database_url, min_size=1, max_size=10, application_name=service
    )
    stack.push_async_callback(pool.close)
    return pool


async def open_bus(stack: AsyncExitStack, settings: BusSettings, service: str) -> Bus:
    """The service's bus on the installation's prefix, closed when `stack` exits."""
    topology = Topology(
        prefix=settings.ticktide_bus_prefix, default_delivery_limit=settings.bus_delivery_limit
    )
    bus = await Bus.connect(
        settings.amqp_url,
        topology,
        service=service,
        publish_timeout=settings.bus_publish_timeout_seconds,
    )
    stack.push_async_callback(bus.close)
    return bus


async def start_consuming(
    stack: AsyncExitStack,
    *,
    settings: BusSettings,
    service: str,
    pool: asyncpg.Pool,
    bus: Bus,
    consumers: Sequence[Consumer],
    periodic: Sequence[Periodic],
    checks: dict[str, ReadinessCheck],
) -> None:
    """Start the consumers, the loops and the heartbeat (all stopped when `stack`
    exits, before what was opened earlier); fills `checks` (the readiness checks
    of `/ready` and the heartbeat) with the pool's and the bus's."""
    checks.update(postgres=postgres_check(pool), rabbitmq=bus_check(bus))
    for consumer in consumers:
        await bus.consume(
            consumer.queue, consumer.model, consumer.handler, prefetch=settings.bus_prefetch
        )
    tasks = [
        asyncio.create_task(run_periodically(loop.action, loop.seconds, loop.name))
        for loop in periodic
    ]
    stack.push_async_callback(stop_tasks, tasks)
    heartbeat = start_heartbeat(bus, settings, service, lambda: checks)
    stack.push_async_callback(heartbeat.stop)


def state_dependency(name: str) -> Any:
    """`Depends` on the lifespan state's entry `name` (`request.state.<name>`):
    `Annotated[CryptoIngester, state_dependency("ingester")]`, say."""

    def read(request: Request) -> Any:
        return getattr(request.state, name)

    return Depends(read)


PoolDep = Annotated[asyncpg.Pool, state_dependency("pool")]
BusDep = Annotated[Bus, state_dependency("bus")]
ChecksDep = Annotated[dict[str, ReadinessCheck], state_dependency("checks")]


def serve(app: FastAPI, settings: ServiceSettings, service: str, port: int) -> None:
    """`python -m ticktide_ingest_<x>`: serve `app` on `port` until SIGTERM."""
    run_service(
        app, service=service, host=settings.service_host, port=port, log_level=settings.log_level
    )
