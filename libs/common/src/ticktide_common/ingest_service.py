"""The wiring every ingester's `app.py` shares (crypto, stocks, weather).

`IngesterSettings` is the set of mixins every ingester reads; each one's own
class (in its package's `settings.py`) adds its provider's fields.
`create_ingest_app` builds the app around the service's `start(stack, checks)`,
which opens, over the lifespan's one `AsyncExitStack`: its HTTP clients
(`open_http`), then the pool and the bus (`open_pool_and_bus`), builds its
ingester and scheduler, and calls `start_consuming` (its `IngestQueues`: the
backfill commands and stored events, the periodic loops, the heartbeat). On exit all
stops in reverse order: the heartbeat, the loops, the bus (no handler runs any
more), the pool, the HTTP clients. `PoolDep` / `BusDep` (and `state_dependency`
for an app's own entries) read the typed lifespan state from `request.state`,
as the gateway's `deps` do. `serve` is every ingester's `__main__`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypedDict, TypeVar

import asyncpg
import httpx
from fastapi import Depends, FastAPI, Request

from ticktide_common.bus import Bus
from ticktide_common.db import create_pool
from ticktide_common.health import ReadinessCheck, bus_check, health_router, postgres_check
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
from ticktide_common.topology import QueueSpec

__all__ = [
    "BusDep",
    "Checks",
    "IngestQueues",
    "Ingester",
    "IngestState",
    "IngesterSettings",
    "Periodic",
    "PoolDep",
    "create_ingest_app",
    "open_http",
    "open_pool_and_bus",
    "serve",
    "start_consuming",
    "state_dependency",
]


Checks = dict[str, ReadinessCheck]
Start = Callable[[AsyncExitStack, Checks], Awaitable[Mapping[str, Any]]]
"""(the lifespan's exit stack, the readiness checks to fill) → the typed state."""


class IngesterSettings(
    DatabaseSettings,
    BusSettings,
    MarketCatalogueSettings,
    HistoryBoundsSettings,
    UpstreamHttpSettings,
):
    """What every ingester reads: database, bus, the catalogue, history bounds and
    the upstream HTTP policy (its own class adds the provider's fields)."""


SettingsT = TypeVar("SettingsT", bound=IngesterSettings)
HttpT = TypeVar("HttpT")
IngesterT = TypeVar("IngesterT")
SchedulerT = TypeVar("SchedulerT")


class IngestState(TypedDict, Generic[SettingsT, HttpT, IngesterT, SchedulerT]):
    """What an ingester's lifespan creates and yields (`request.state`); each
    app names its own, e.g. `IngestState[IngestCryptoSettings, httpx.AsyncClient,
    CryptoIngester, Scheduler]`."""

    settings: SettingsT
    pool: asyncpg.Pool
    bus: Bus
    http: HttpT  # the provider client(s), closed after the bus
    ingester: IngesterT
    scheduler: SchedulerT


@dataclass(frozen=True)
class IngestQueues:
    """The two queues every ingester consumes, with their message models: its
    backfill commands and the writer's stored events of its domain."""

    backfills: QueueSpec
    command: type[Any]
    stored: QueueSpec
    event: type[Any]


class Ingester(Protocol):
    """What `start_consuming` needs of an ingester (its `service.py` class)."""

    pool: asyncpg.Pool
    bus: Bus

    async def handle_backfill(self, command: Any) -> None: ...

    async def on_stored(self, event: Any) -> None: ...


@dataclass(frozen=True)
class Periodic:
    """One background loop: `action` every `seconds` (see `run_periodically`)."""

    action: Callable[[], Awaitable[object]]
    seconds: float
    name: str


def create_ingest_app(service: str, settings: ServiceSettings, start: Start) -> FastAPI:
    """The app of one ingester: its lifespan runs `start(stack, checks)` over one
    `AsyncExitStack` and yields the typed state `start` returns; `/health`,
    `/ready` (the `checks` `start` fills) and `/metrics`."""
    checks: Checks = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Mapping[str, Any]]:
        async with AsyncExitStack() as stack:
            yield await start(stack, checks)

    app = FastAPI(title=f"Ticktide {service}", version=settings.ticktide_version, lifespan=lifespan)
    app.include_router(health_router(service, settings.ticktide_version, lambda: checks))
    return app


def open_http(stack: AsyncExitStack, base_url: str, timeout: float) -> httpx.AsyncClient:
    """An HTTP client for one provider (`base_url` "" when it asks full URLs),
    closed when `stack` exits (after the bus, which is opened after it)."""
    http = httpx.AsyncClient(base_url=base_url, timeout=timeout)
    stack.push_async_callback(http.aclose)
    return http


async def open_pool_and_bus(
    stack: AsyncExitStack, settings: IngesterSettings, service: str
) -> tuple[asyncpg.Pool, Bus]:
    """The service's pool and its bus on the installation's prefix, both closed
    when `stack` exits (the bus first)."""
    pool = await create_pool(
        settings.database_url, min_size=1, max_size=10, application_name=service
    )
    stack.push_async_callback(pool.close)
    bus = await Bus.connect_with(settings, service=service)
    stack.push_async_callback(bus.close)
    return pool, bus


async def start_consuming(
    stack: AsyncExitStack,
    settings: BusSettings,
    service: str,
    checks: Checks,
    queues: IngestQueues,
    ingester: Ingester,
    periodic: Sequence[Periodic],
) -> None:
    """Consume `queues` with the ingester's `handle_backfill` and `on_stored`,
    start the loops and the heartbeat (all stopped when `stack` exits, before
    what was opened earlier); fills `checks` (the readiness checks of `/ready`
    and the heartbeat) with the pool's and the bus's."""
    pool, bus = ingester.pool, ingester.bus
    checks.update(postgres=postgres_check(pool), rabbitmq=bus_check(bus))
    prefetch = settings.bus_prefetch
    await bus.consume(queues.backfills, queues.command, ingester.handle_backfill, prefetch=prefetch)
    await bus.consume(queues.stored, queues.event, ingester.on_stored, prefetch=prefetch)
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


def serve(app: FastAPI, settings: ServiceSettings, service: str, port: int) -> None:
    """An ingester's `__main__`: serve `app` on `port` until SIGTERM."""
    run_service(
        app, service=service, host=settings.service_host, port=port, log_level=settings.log_level
    )
